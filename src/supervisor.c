/*
 * supervisor.c - placeholder until the module lands.
 */
