/* opcost.h - umbrella header of libopcost: include this one. */
#ifndef OPCOST_OPCOST_H
#define OPCOST_OPCOST_H

#include "opcost/status.h"
#include "opcost/version.h"
#include "opcost/op.h"
#include "opcost/target.h"
#include "opcost/probe.h"
#include "opcost/net.h"
#include "opcost/space.h"
#include "opcost/lut.h"
#include "opcost/model.h"
#include "opcost/search.h"
#include "opcost/report.h"

#endif
