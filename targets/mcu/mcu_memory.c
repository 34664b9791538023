/* mcu_memory.c - flash and SRAM of ops and networks on a microcontroller
 * (include/opcost/mcu.h): the board table, the firmware's own footprint read
 * from its ELF section headers, the analytic per-op and per-network figures
 * in the firmware's arena layout (mcu_wire.c's buffer sizes), and the fit
 * check a search uses as a constraint. */
#include <elf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core.h"
#include "opcost/net.h"
#include "targets/mcu/mcu_internal.h"

#define KIB INT64_C(1024)

/* Datasheet figures: SRAM usable for data (all banks, TCM included), flash,
 * nominal maximum core clock. The mps2 rows are the QEMU boards. */
static const struct oc_mcu_board boards[] = {
    {"stm32f746", "cortex-m7", 320 * KIB, 1024 * KIB, 216000000},
    {"stm32h743", "cortex-m7", 1024 * KIB, 2048 * KIB, 480000000},
    {"stm32f446", "cortex-m4", 128 * KIB, 512 * KIB, 180000000},
    {"stm32f411", "cortex-m4", 128 * KIB, 512 * KIB, 100000000},
    {"stm32l4r5", "cortex-m4", 640 * KIB, 2048 * KIB, 120000000},
    {"nrf52840", "cortex-m4", 256 * KIB, 1024 * KIB, 64000000},
    {"mps2-an386", "cortex-m4", 4096 * KIB, 4096 * KIB, 25000000},
    {"mps2-an500", "cortex-m7", 4096 * KIB, 4096 * KIB, 25000000},
};

size_t oc_mcu_board_count(void) { return sizeof boards / sizeof boards[0]; }

const struct oc_mcu_board *oc_mcu_board_at(size_t index) {
  return index < oc_mcu_board_count() ? &boards[index] : NULL;
}

const struct oc_mcu_board *oc_mcu_board_find(const char *name) {
  for (size_t i = 0; i < oc_mcu_board_count(); i++) {
    if (strcasecmp(boards[i].name, name) == 0) return &boards[i];
  }
  return NULL;
}

enum oc_status oc_mcu_firmware_from_elf(const char *path, struct oc_mcu_firmware *fw) {
  enum oc_status st = oc_status_ok;
  Elf32_Shdr *sections = NULL;
  char *names = NULL;
  memset(fw, 0, sizeof *fw);
  FILE *f = fopen(path, "rb");
  if (f == NULL) return oc__fail(oc_status_io_error, "firmware '%s': cannot open", path);
  Elf32_Ehdr eh;
  if (fread(&eh, sizeof eh, 1, f) != 1 || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
      eh.e_ident[EI_CLASS] != ELFCLASS32 || eh.e_ident[EI_DATA] != ELFDATA2LSB ||
      eh.e_shentsize != sizeof(Elf32_Shdr) || eh.e_shnum == 0 || eh.e_shstrndx >= eh.e_shnum) {
    st = oc__fail(oc_status_parse_error, "firmware '%s': not a little-endian 32-bit ELF", path);
    goto cleanup;
  }
  sections = calloc(eh.e_shnum, sizeof *sections);
  if (sections == NULL) {
    st = oc__fail(oc_status_out_of_memory, "firmware '%s': out of memory", path);
    goto cleanup;
  }
  if (fseek(f, (long)eh.e_shoff, SEEK_SET) != 0 ||
      fread(sections, sizeof *sections, eh.e_shnum, f) != eh.e_shnum) {
    st = oc__fail(oc_status_parse_error, "firmware '%s': section headers cut short", path);
    goto cleanup;
  }
  const Elf32_Shdr *strtab = &sections[eh.e_shstrndx];
  names = calloc(1, (size_t)strtab->sh_size + 1);
  if (names == NULL || fseek(f, (long)strtab->sh_offset, SEEK_SET) != 0 ||
      fread(names, 1, strtab->sh_size, f) != strtab->sh_size) {
    st = oc__fail(oc_status_parse_error, "firmware '%s': section names unreadable", path);
    goto cleanup;
  }
  for (unsigned i = 0; i < eh.e_shnum; i++) {
    const Elf32_Shdr *s = &sections[i];
    if (!(s->sh_flags & SHF_ALLOC) || s->sh_name >= strtab->sh_size) continue;
    const char *name = names + s->sh_name;
    if (s->sh_type != SHT_NOBITS) fw->code_bytes += s->sh_size; /* stored in flash */
    if ((s->sh_flags & SHF_WRITE) && strcmp(name, ".stack") != 0 && strcmp(name, ".arena") != 0)
      fw->static_ram_bytes += s->sh_size;
  }
cleanup:
  free(names);
  free(sections);
  fclose(f);
  return st;
}

static void finish(struct oc_mcu_memory *m, const struct oc_mcu_firmware *fw) {
  if (fw) {
    m->code_bytes = fw->code_bytes;
    m->static_ram_bytes = fw->static_ram_bytes;
    m->stack_bytes = fw->stack_bytes;
  }
  m->flash_bytes = m->code_bytes + m->weight_bytes;
  m->sram_bytes = m->static_ram_bytes + m->activation_bytes + m->scratch_bytes + m->stack_bytes;
}

/* Buffer sizes of a valid op. */
static enum oc_status op_buffers(const struct oc_op *op, int64_t bytes[oc__mcu_buf__count]) {
  struct oc_op_shapes sh;
  enum oc_status st = oc_op_validate(op);
  if (st != oc_status_ok) return st;
  if (op->dtype != oc_dtype_f32 && op->dtype != oc_dtype_qs8)
    return oc__fail(oc_status_unsupported, "mcu memory: dtype %s (only f32 and qs8)",
                    oc_dtype_name(op->dtype));
  st = oc_op_shapes(op, &sh);
  if (st != oc_status_ok) return st;
  if (!oc__mcu_buffer_sizes(op, sh.output.h, sh.output.w, bytes))
    return oc__fail(oc_status_overflow, "mcu memory: a buffer of the op exceeds 2 GiB");
  return oc_status_ok;
}

enum oc_status oc_mcu_op_memory(const struct oc_op *op, const struct oc_mcu_firmware *fw,
                                struct oc_mcu_memory *mem) {
  int64_t b[oc__mcu_buf__count];
  memset(mem, 0, sizeof *mem);
  enum oc_status st = op_buffers(op, b);
  if (st != oc_status_ok) return st;
  mem->weight_bytes = b[oc__mcu_buf_weights] + b[oc__mcu_buf_bias] + b[oc__mcu_buf_qparams];
  mem->activation_bytes = b[oc__mcu_buf_in0] + b[oc__mcu_buf_in1] + b[oc__mcu_buf_out];
  mem->scratch_bytes = b[oc__mcu_buf_scratch];
  for (int i = 0; i < oc__mcu_buf__count; i++) mem->arena_bytes += oc__mcu_align(b[i]);
  finish(mem, fw);
  return oc_status_ok;
}

enum oc_status oc_mcu_net_memory(const struct oc_net *net, const struct oc_mcu_firmware *fw,
                                 struct oc_mcu_memory *mem) {
  memset(mem, 0, sizeof *mem);
  if (net->dtype != oc_dtype_f32 && net->dtype != oc_dtype_qs8)
    return oc__fail(oc_status_unsupported, "mcu memory: network '%s' has dtype %s (only f32 and qs8)",
                    net->name, oc_dtype_name(net->dtype));
  for (int32_t i = 0; i < net->n_kernels; i++) {
    const struct oc_net_kernel *k = &net->kernels[i];
    if (k->step != oc_net_step_op) continue;
    int64_t b[oc__mcu_buf__count];
    enum oc_status st = op_buffers(&k->op, b);
    if (st != oc_status_ok) return oc__fail_prefix(st, "network '%s': kernel %d: ", net->name, (int)i);
    mem->weight_bytes += b[oc__mcu_buf_weights] + b[oc__mcu_buf_bias] + b[oc__mcu_buf_qparams];
    if (b[oc__mcu_buf_scratch] > mem->scratch_bytes) mem->scratch_bytes = b[oc__mcu_buf_scratch];
  }
  /* Parameter tensors that are no kernel's weights (class token, position
   * embedding) are constants: flash. */
  for (int32_t i = 0; i < net->n_tensors; i++) {
    if (net->tensors[i].kind == oc_net_tensor_param) mem->weight_bytes += net->tensors[i].bytes;
  }
  mem->activation_bytes = net->cost.peak_activation_bytes;
  finish(mem, fw);
  return oc_status_ok;
}

static void kib(char *buf, size_t size, int64_t bytes) {
  oc__strfmt(buf, size, "%.1f KiB", (double)bytes / 1024.0);
}

bool oc_mcu_fits(const struct oc_mcu_memory *mem, const struct oc_mcu_board *board, char *why,
                 size_t why_len) {
  char need[32], have[32];
  if (why_len > 0) why[0] = '\0';
  if (mem->sram_bytes > board->sram_bytes) {
    kib(need, sizeof need, mem->sram_bytes);
    kib(have, sizeof have, board->sram_bytes);
    oc__strfmt(why, why_len, "SRAM: needs %s, %s has %s (%lld bytes over)", need, board->name,
               have, (long long)(mem->sram_bytes - board->sram_bytes));
    return false;
  }
  if (mem->flash_bytes > board->flash_bytes) {
    kib(need, sizeof need, mem->flash_bytes);
    kib(have, sizeof have, board->flash_bytes);
    oc__strfmt(why, why_len, "flash: needs %s, %s has %s (%lld bytes over)", need, board->name,
               have, (long long)(mem->flash_bytes - board->flash_bytes));
    return false;
  }
  return true;
}
