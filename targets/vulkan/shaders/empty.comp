// empty.comp - device characterization: a dispatch that does nothing (the
// fixed cost of a launch).
#version 450
layout(local_size_x_id = 0, local_size_y_id = 1, local_size_z_id = 2) in;

void main() {}
