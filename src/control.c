/*
 * control.c - placeholder until the module lands.
 */
