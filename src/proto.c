/*
 * proto.c - placeholder until the module lands.
 */
