/*
 * loop.c - placeholder until the module lands.
 */
