/* Shared helpers of the fuzz targets (fuzz/README.md): the fuzz bytes as a file in a
 * private scratch folder (tmpfs when there is one), the shipped presets' folder. */
#ifndef LQ_FUZZ_COMMON_H
#define LQ_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* The scratch folder of this process (made on first use, under $TMPDIR or /dev/shm). */
const char *lqf_scratch(void);
/* Write data to scratch/name (replaced each call); returns the path (static storage of
 * the harness, not of the library) or NULL. */
const char *lqf_write(const char *name, const uint8_t *data, size_t size);
/* data as a NUL-terminated copy (malloc'd). */
char *lqf_strdup(const uint8_t *data, size_t size);
/* Remove every file in a folder under the scratch folder (not the folder). */
void lqf_clear_dir(const char *dir);
/* The shipped presets (source tree). */
const char *lqf_preset_dir(void);
/* Write a short generated WAV (sine + noise, 16-bit stereo, rate Hz, frames) to path. */
int lqf_make_wav(const char *path, int rate, int channels, long frames);

#endif
