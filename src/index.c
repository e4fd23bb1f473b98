/*
 * index.c - placeholder until the module lands.
 */
