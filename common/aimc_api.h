/* aimc_api.h - what libaimc.so exports.
 *
 * The library is compiled with -fvisibility=hidden: a function is exported only when it is
 * declared between AIMC_API_BEGIN and AIMC_API_END, which every installed header
 * (include/aimc/, docs/driver.md "Stable API") puts around its declarations. Internal
 * headers do not, so their functions stay inside the library. For a program that includes
 * the headers, the two macros change nothing.
 */
#ifndef AIMC_API_H
#define AIMC_API_H

#if defined(__GNUC__) || defined(__clang__)
#define AIMC_API_BEGIN _Pragma("GCC visibility push(default)")
#define AIMC_API_END _Pragma("GCC visibility pop")
#else
#define AIMC_API_BEGIN
#define AIMC_API_END
#endif

/* The version of the library and its headers: major.minor.patch; the soname carries the
 * major (libaimc.so.MAJOR), which changes when the stable API changes incompatibly. */
#define AIMC_VERSION_MAJOR 0
#define AIMC_VERSION_MINOR 1
#define AIMC_VERSION_PATCH 0

#endif /* AIMC_API_H */
