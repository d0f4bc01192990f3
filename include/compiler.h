/*
 * compiler.h — attributes and tiny helpers shared by every module.
 */
#ifndef SLUICE_COMPILER_H
#define SLUICE_COMPILER_H

#include <stddef.h>

#define MUST_CHECK   __attribute__((warn_unused_result))
#define UNUSED       __attribute__((unused))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define NORETURN     __attribute__((noreturn))
#define ALWAYS_INLINE inline __attribute__((always_inline))
#define likely(x)    __builtin_expect(!!(x), 1)
#define unlikely(x)  __builtin_expect(!!(x), 0)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) \
	((type *)((char *)(ptr) - offsetof(type, member)))

#endif
