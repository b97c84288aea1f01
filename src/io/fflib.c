#include "io/fflib.h"

#include <dlfcn.h>
#include <string.h>

#define LQ_STR_(x) #x
#define LQ_STR(x) LQ_STR_(x)

const char *const lq_fflib_sonames[3] = {
    "libavutil.so." LQ_STR(LIBAVUTIL_VERSION_MAJOR),
    "libavcodec.so." LQ_STR(LIBAVCODEC_VERSION_MAJOR),
    "libavformat.so." LQ_STR(LIBAVFORMAT_VERSION_MAJOR),
};

/* What the user is told to install: the Debian packages carry the major version. */
#define NEED "(expected FFmpeg's libraries, Debian packages libavcodec" \
    LQ_STR(LIBAVCODEC_VERSION_MAJOR) " and libavformat" LQ_STR(LIBAVFORMAT_VERSION_MAJOR) \
    ": AAC checks, AAC exports and lossy inputs need them)"

void lq_fflib_close(lq_fflib *lib)
{
    /* RTLD_NODELETE: this only drops the reference, the code stays mapped */
    if (lib->format) dlclose(lib->format);
    if (lib->codec) dlclose(lib->codec);
    if (lib->util) dlclose(lib->util);
    memset(lib, 0, sizeof *lib);
}

static lq_error fail(lq_fflib *lib, lq_error code, const char *path, lq_diag *d,
                     const char *what, const char *name, const char *detail)
{
    lq_error e = lq_diag_set(d, code, "%s%sFFmpeg's library %s %s%s%s%s " NEED,
                             path ? path : "", path ? ": " : "", name, what,
                             detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
    lq_fflib_close(lib);
    return e;
}

lq_error lq_fflib_open_names(lq_fflib *lib, const char *const names[3], int with_format,
                             lq_error code, const char *path, lq_diag *d)
{
    memset(lib, 0, sizeof *lib);
    void **handles[3] = {&lib->util, &lib->codec, &lib->format};
    for (int i = 0; i < (with_format ? 3 : 2); i++) {
        /* RTLD_LOCAL: FFmpeg's symbols stay out of the global namespace; RTLD_NOW: a
         * library of another build fails here, not at a call in the middle of a job */
        *handles[i] = dlopen(names[i], RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
        if (!*handles[i]) return fail(lib, code, path, d, "cannot be loaded", names[i], dlerror());
    }
    /* memcpy: ISO C has no conversion from dlsym's void * to a function pointer */
#define LQ_FF_SYM(h, i, name)                                                              \
    {                                                                                      \
        void *p = dlsym(lib->h, #name);                                                    \
        if (!p) return fail(lib, code, path, d, "has no " #name, names[i], NULL);          \
        memcpy(&lib->name, &p, sizeof p);                                                  \
    }
#define LQ_FF_UTIL_SYM(name) LQ_FF_SYM(util, 0, name)
#define LQ_FF_CODEC_SYM(name) LQ_FF_SYM(codec, 1, name)
#define LQ_FF_FORMAT_SYM(name) LQ_FF_SYM(format, 2, name)
    LQ_FF_AVUTIL(LQ_FF_UTIL_SYM)
    LQ_FF_AVCODEC(LQ_FF_CODEC_SYM)
    if (with_format) {
        LQ_FF_AVFORMAT(LQ_FF_FORMAT_SYM)
    }
#undef LQ_FF_SYM
    /* FFmpeg logs to stderr by default: the library never prints */
    lib->av_log_set_level(AV_LOG_QUIET);
    return LQ_OK;
}

lq_error lq_fflib_open(lq_fflib *lib, int with_format, lq_error code, const char *path,
                       lq_diag *d)
{
    return lq_fflib_open_names(lib, lq_fflib_sonames, with_format, code, path, d);
}
