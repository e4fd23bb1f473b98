/*
 * intensity.c - placeholder until the module lands.
 */
