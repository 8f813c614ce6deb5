/* ek_markers.h - inference boundary markers for instruction counting.
 * The harness calls ek_mark_begin() just before an inference and ek_mark_end() just after.
 * They do nothing; their entry addresses (ELF symbols) are given to the QEMU plugin
 * targets/plugin/ek_insn_count.so, which counts per vCPU the instructions executed from
 * the entry of ek_mark_begin up to (not including) the entry of ek_mark_end. */
#ifndef EK_MARKERS_H
#define EK_MARKERS_H

void ek_mark_begin(void);
void ek_mark_end(void);
/* Around spin-waiting (barriers, joins) in parallel runtimes: the plugin reports those
 * instructions apart, so the critical path excludes them. */
void ek_mark_wait_begin(void);
void ek_mark_wait_end(void);

#endif
