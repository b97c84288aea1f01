/* What each streaming service will do to an export's level on playback, from the
 * published (or trade) figures in TARGETS.md: the level the service plays at and
 * whether it turns quiet tracks up.  Used by both reports. */
#ifndef LQ_REPORT_PLAYBACK_H
#define LQ_REPORT_PLAYBACK_H

typedef struct lq_service {
    const char *name;
    double level_lufs;     /* the level the service normalizes to */
    int turns_up;          /* 0: turned down only; 1: up too */
    double up_tp_limit;    /* when turning up, not past this true peak (dBTP); or +inf */
    const char *source;    /* where the figure comes from */
} lq_service;

extern const lq_service lq_services[];
extern const int lq_n_services;

/* The gain (dB) the service applies to a file of this loudness and true peak. */
double lq_service_gain(const lq_service *s, double lufs, double tp_dbtp);

#endif
