#include "lacquer/lacquer.h"

const char *lq_strerror(lq_error err)
{
    switch (err) {
    case LQ_OK: return "success";
    case LQ_ERR_NOMEM: return "out of memory";
    case LQ_ERR_ARG: return "invalid argument";
    case LQ_ERR_INPUT_UNREADABLE: return "input file unreadable or not audio";
    case LQ_ERR_INPUT_TRUNCATED: return "input file truncated";
    case LQ_ERR_INPUT_CHANNELS: return "unsupported channel count";
    case LQ_ERR_INPUT_RATE: return "unsupported sample rate";
    case LQ_ERR_INPUT_EMPTY: return "input has no audio";
    case LQ_ERR_INPUT_NONFINITE: return "input has NaN or infinite samples";
    case LQ_ERR_PRESET: return "invalid preset or target";
    case LQ_ERR_PRESET_NOT_FOUND: return "preset or target not found";
    case LQ_ERR_OUTPUT: return "cannot write output";
    case LQ_ERR_EXISTS: return "output exists";
    case LQ_ERR_CANCELLED: return "cancelled";
    case LQ_ERR_DSP: return "internal DSP failure";
    case LQ_ERR_ENCODE: return "encoder failure";
    case LQ_ERR_INPUT_MISMATCH: return "stems do not match (sample rate or length)";
    case LQ_ERR_COUNT: break;
    }
    return "unknown error";
}

const char *lq_version(void)
{
    return LQ_VERSION_STRING;
}
