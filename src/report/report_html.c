/* report.html: one self-contained page (inline CSS, JS and SVG; a Content-Security-
 * Policy that forbids every remote load) built from the job's results.  The data is
 * the report.json object plus the time series and spectra measured during the run
 * (engine/analysis.h), embedded as JSON; the page's script draws the plots and runs the
 * level-matched A/B player (docs/REPORT.md, "report.html").
 *
 * A/B gains: every file (the mix and each export) plays at the loudness of the
 * quietest one: gain_db = min(LUFS) - LUFS of the file, applied as audio.volume =
 * 10^(gain_db/20) (never above 1, so nothing is boosted into clipping).  The page keeps
 * the figures in window.lqAB (and data-gain-db on each button) for tests/test_html.c. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/analysis.h"
#include "report/html.h"
#include "report/report.h"

void lq_job_set_html(lq_job *j, int on)
{
    if (j) j->no_html = !on;
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(round(v * 1e3) / 1e3) : json_null();
}

static json_t *series_json(const lq_series *s)
{
    json_t *o = json_object(), *v = json_array();
    json_object_set_new(o, "step_s", json_real(s->step_s));
    for (int i = 0; i < s->n; i++) json_array_append_new(v, num(s->v[i]));
    json_object_set_new(o, "v", v);
    return o;
}

static json_t *spectrum_json(const lq_deep_result *d)
{
    json_t *a = json_array();
    for (int i = 0; i < LQ_THIRD_OCTAVES; i++)
        json_array_append_new(a, d->third_octave_db[i] > -199 ? num(d->third_octave_db[i])
                                                               : json_null());
    return a;
}

/* A URL path (percent-encoded, '/' kept) from directory `from` to file `to`, both
 * absolute and canonical. */
static char *relative_url(const char *from, const char *to)
{
    size_t common = 0, i = 0, flen = strlen(from);
    while (from[i] && from[i] == to[i]) {
        i++;
        if (from[i - 1] == '/') common = i;
    }
    if (!from[i] && to[i] == '/') common = i + 1; /* `to` is inside `from` */
    const char *q = common <= flen ? from + common : "";
    size_t ups = 0;
    if (*q) {
        ups = 1;
        for (; *q; q++) ups += *q == '/';
    }
    const char *rest = to + common;
    size_t len = ups * 3 + strlen(rest) * 3 + 1;
    char *out = malloc(len);
    if (!out) return NULL;
    size_t o = 0;
    for (size_t k = 0; k < ups; k++) memcpy(out + o, "../", 3), o += 3;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)rest; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~/", *p)) {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = 0;
    return out;
}

static json_t *file_url(const char *dir, const char *path)
{
    char d[PATH_MAX], p[PATH_MAX];
    if (!realpath(dir, d) || !realpath(path, p)) return json_null();
    char *u = relative_url(d, p);
    json_t *s = u ? json_string(u) : json_null();
    free(u);
    return s;
}

json_t *lq_html_bands(void)
{
    json_t *hz = json_array();
    for (int i = 0; i < LQ_THIRD_OCTAVES; i++)
        json_array_append_new(hz, json_real(round(lq_third_octave_hz(i) * 10) / 10));
    return hz;
}

json_t *lq_html_job_files(const lq_job *j)
{
    /* the A/B files: the mix first, then every export; gains to the quietest */
    double ref = j->in_meas.integrated_lufs;
    for (size_t i = 0; i < j->n_targets; i++)
        if (isfinite(j->exports[i].meas.integrated_lufs) && j->exports[i].meas.integrated_lufs < ref)
            ref = j->exports[i].meas.integrated_lufs;
    json_t *files = json_array();
    for (size_t i = 0; i <= j->n_targets; i++) {
        const lq_meter_result *m = i ? &j->exports[i - 1].meas : &j->in_meas;
        json_t *f = json_object();
        json_object_set_new(f, "name", json_string(i ? j->exports[i - 1].target->name : "mix"));
        /* stems have no single mix file to play: the summed mix is not written */
        json_object_set_new(f, "src", i ? file_url(j->out_dir, j->exports[i - 1].path)
                                      : j->stems ? json_null() : file_url(j->out_dir, j->input));
        json_object_set_new(f, "lufs", num(m->integrated_lufs));
        double g = isfinite(m->integrated_lufs) && isfinite(ref) ? ref - m->integrated_lufs : 0.0;
        json_object_set_new(f, "gain_db", json_real(g));
        if (m->has_deep) {
            json_object_set_new(f, "short_term", series_json(&m->deep.short_term));
            json_object_set_new(f, "spectrum_db", spectrum_json(&m->deep));
        }
        json_array_append_new(files, f);
    }
    return files;
}

static json_t *extra_json(const lq_job *j)
{
    json_t *x = json_object();
    json_object_set_new(x, "bands_hz", lq_html_bands());
    json_object_set_new(x, "files", lq_html_job_files(j));
    return x;
}

/* The page, in pieces (ISO C caps a string literal's length). */
static const char *const head_html =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; "
    "media-src 'self' file: blob:; connect-src 'none'; font-src 'none'; "
    "frame-src 'none'; object-src 'none'; base-uri 'none'; form-action 'none'\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>lacquer mastering report</title>\n<style>\n"
    ":root{--bg:#fbfaf7;--fg:#1d1d1f;--mut:#6b6b70;--card:#fff;--line:#e3e1da;--ok:#1b7f3b;"
    "--bad:#b3261e;--acc:#7a4cc2}\n"
    "@media (prefers-color-scheme:dark){:root{--bg:#151517;--fg:#eee;--mut:#a0a0a8;"
    "--card:#1f1f23;--line:#34343a}}\n"
    "*{box-sizing:border-box}body{margin:0;background:var(--bg);color:var(--fg);"
    "font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif}\n"
    "main{max-width:980px;margin:0 auto;padding:16px}h1{font-size:1.5em;margin:.2em 0}"
    "h2{font-size:1.15em;margin:0 0 .5em}\n"
    "section{background:var(--card);border:1px solid var(--line);border-radius:10px;"
    "padding:14px;margin:14px 0}\n"
    ".mut{color:var(--mut)}.ok{color:var(--ok)}.bad{color:var(--bad)}\n"
    ".verdict{font-weight:600;font-size:1.1em}\n"
    ".finding{border-left:4px solid var(--bad);padding:4px 10px;margin:8px 0}"
    ".finding p{margin:.2em 0}\n"
    "svg.plot{width:100%;height:auto;display:block}svg.plot text{fill:var(--mut);"
    "font-size:12px}\n"
    "svg.plot .grid{stroke:var(--line);stroke-width:1}svg.plot .line{fill:none;"
    "stroke-width:2}\n"
    ".legend span{display:inline-block;margin-right:12px;font-size:.9em}"
    ".legend i{display:inline-block;width:12px;height:3px;margin-right:4px;"
    "vertical-align:middle}\n"
    ".tw{overflow-x:auto}table{border-collapse:collapse;width:100%;font-size:.92em}"
    "th,td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:right;"
    "white-space:nowrap}th:first-child,td:first-child{text-align:left}\n"
    ".ab button{font:inherit;padding:8px 12px;margin:4px 4px 4px 0;border-radius:8px;"
    "border:1px solid var(--line);background:var(--bg);color:var(--fg);cursor:pointer}\n"
    ".ab button.on{background:var(--acc);color:#fff;border-color:var(--acc)}\n"
    ".ab .ctl{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin-top:8px}\n"
    ".ab input[type=range]{flex:1;min-width:160px}\n"
    "@media (max-width:600px){main{padding:8px}section{padding:10px}body{font-size:14px}}\n"
    "</style></head><body><main>\n";

static const char *const body_html =
    "<h1>Mastering report</h1><p class=\"mut\" id=\"meta\"></p>\n"
    "<section id=\"check\"><h2>The mix</h2><div id=\"checkbody\"></div></section>\n"
    "<section id=\"abs\"><h2>Listen: level-matched A/B</h2>\n"
    "<p class=\"mut\">Every file plays at the same loudness (the gains come from lacquer's "
    "own measurements), so you hear what the chain did, not just louder. Switching keeps "
    "the position.</p><div class=\"ab\" id=\"ab\"></div></section>\n"
    "<section><h2>Short-term loudness</h2><div class=\"legend\" id=\"lg-loudness\"></div>"
    "<svg class=\"plot\" id=\"plot-loudness\" viewBox=\"0 0 800 300\"></svg></section>\n"
    "<section id=\"sec-gr\"><h2>Limiter gain reduction</h2><div class=\"legend\" "
    "id=\"lg-gr\"></div><svg class=\"plot\" id=\"plot-gr\" viewBox=\"0 0 800 260\"></svg>"
    "</section>\n"
    "<section id=\"sec-mb\"><h2>Multiband compressor gain reduction</h2><div "
    "class=\"legend\" id=\"lg-mb\"></div><svg class=\"plot\" id=\"plot-mb\" "
    "viewBox=\"0 0 800 260\"></svg></section>\n"
    "<section><h2>Spectrum (third octaves, long-term average)</h2><div class=\"legend\" "
    "id=\"lg-spectrum\"></div><svg class=\"plot\" id=\"plot-spectrum\" viewBox=\"0 0 800 300\">"
    "</svg></section>\n"
    "<section id=\"sec-ref\" hidden><h2>Reference matching: spectra (mid, gated, dB re "
    "loudness)</h2><div class=\"legend\" id=\"lg-refspec\"></div><svg class=\"plot\" "
    "id=\"plot-refspec\" viewBox=\"0 0 800 300\"></svg><div class=\"legend\" "
    "id=\"lg-refcurve\"></div><svg class=\"plot\" id=\"plot-refcurve\" "
    "viewBox=\"0 0 800 240\"></svg></section>\n"
    "<section id=\"sec-eq\"><h2>EQ design curve</h2><div class=\"legend\" id=\"lg-eq\"></div>"
    "<svg class=\"plot\" id=\"plot-eq\" viewBox=\"0 0 800 240\"></svg></section>\n"
    "<section><h2>Exports</h2><div class=\"tw\"><table id=\"targets\"></table></div></section>\n"
    "<section><h2>What streaming services will do</h2><p class=\"mut\">Gain each service "
    "applies on playback (normalization).</p><div class=\"tw\"><table id=\"playback\"></table>"
    "</div></section>\n"
    "<pre id=\"lqtest-result\" hidden></pre>\n";

static const char *const script_a =
    "<script>\n'use strict';\n"
    "const R=JSON.parse(document.getElementById('lq-report').textContent);\n"
    "const X=JSON.parse(document.getElementById('lq-extra').textContent);\n"
    "const C=['#7a4cc2','#e07a1f','#1f8fd0','#2a9d5c','#c23b6b','#8a8a20','#4b5bd6','#b0522a'];\n"
    "const NS='http://www.w3.org/2000/svg';\n"
    "function el(t,a,p){const e=document.createElementNS(NS,t);for(const k in a)"
    "e.setAttribute(k,a[k]);if(p)p.appendChild(e);return e}\n"
    "function h(t,txt,cls){const e=document.createElement(t);if(txt!=null)e.textContent=txt;"
    "if(cls)e.className=cls;return e}\n"
    "function f(v,d){return v==null||!isFinite(v)?'-':Number(v).toFixed(d==null?1:d)}\n"
    "function legend(id,ser){const g=document.getElementById(id);g.textContent='';"
    "ser.forEach(s=>{const sp=h('span');const i=h('i');i.style.background=s.color;"
    "sp.appendChild(i);sp.appendChild(document.createTextNode(s.name));g.appendChild(sp)})}\n"
    "/* plot(id, series[{name,color,x[],y[]}], {xlog,xlabel,ylabel,ymin,ymax}) */\n"
    "function plot(id,ser,o){const svg=document.getElementById(id);const vb=svg.viewBox.baseVal;"
    "/* the drawing's width follows the screen's, so labels stay legible on a phone */"
    "const W=Math.max(320,Math.min(800,svg.clientWidth||800)),H=vb.height,L=52,Rm=12,T=24,B=34;"
    "svg.setAttribute('viewBox','0 0 '+W+' '+H);"
    "let xs=[],ys=[];ser.forEach(s=>s.x.forEach((x,i)=>{if(s.y[i]!=null&&isFinite(s.y[i]))"
    "{xs.push(x);ys.push(s.y[i])}}));if(!xs.length)return;"
    "const tx=v=>o.xlog?Math.log10(v):v;let x0=Math.min(...xs.map(tx)),x1=Math.max(...xs.map(tx));"
    "if(x1<=x0)x1=x0+1;let lo=o.ymin!=null?o.ymin:Math.min(...ys),hi=o.ymax!=null?o.ymax:Math.max(...ys);"
    "if(hi-lo<1)hi=lo+1;const yst=[0.5,1,2,3,5,10,20,30].find(s=>(hi-lo)/s<=6)||40;"
    "const y0=Math.floor(lo/yst)*yst,y1=Math.ceil(hi/yst)*yst;const ny=Math.round((y1-y0)/yst);"
    "const px=v=>L+(tx(v)-x0)/(x1-x0)*(W-L-Rm),py=v=>T+(y1-Math.min(y1,Math.max(y0,v)))/(y1-y0)*(H-T-B);"
    "for(let k=0;k<=ny;k++){const v=y0+(y1-y0)*k/ny,y=py(v);"
    "el('line',{x1:L,x2:W-Rm,y1:y,y2:y,class:'grid'},svg);"
    "el('text',{x:L-6,y:y+4,'text-anchor':'end'},svg).textContent=f(v,yst<1?1:0)}"
    "const ticks=o.xlog?[31.5,63,125,250,500,1000,2000,4000,8000,16000]:(()=>{const a=[];"
    "const span=x1-x0,st=[1,2,5,10,15,30,60,120,300,600,1200].find(s=>span/s<=8)||span/6;"
    "for(let v=Math.ceil(x0/st)*st;v<=x1;v+=st)a.push(v);return a})();"
    "ticks.forEach(v=>{if(tx(v)<x0||tx(v)>x1)return;const x=px(v);"
    "el('line',{x1:x,x2:x,y1:T,y2:H-B,class:'grid'},svg);"
    "el('text',{x:x,y:H-B+16,'text-anchor':'middle'},svg).textContent="
    "o.xint?v:o.xlog?(v>=1000?(v/1000)+'k':v):"
    "(v>=60?Math.floor(v/60)+':'+String(Math.round(v%60)).padStart(2,'0'):v+'s')});"
    "el('text',{x:W-Rm,y:H-4,'text-anchor':'end'},svg).textContent=o.xlabel||'';"
    "el('text',{x:4,y:4,'dominant-baseline':'hanging'},svg).textContent=o.ylabel||'';"
    "ser.forEach(s=>{let d='',pen=false,n=0;s.x.forEach((x,i)=>{const y=s.y[i];"
    "if(y==null||!isFinite(y)){pen=false;return}d+=(pen?'L':'M')+px(x).toFixed(1)+' '+py(y).toFixed(1);"
    "pen=true;n++});const p=el('path',{d:d,class:'line',stroke:s.color},svg);"
    "p.dataset.points=n;if(s.dash)p.setAttribute('stroke-dasharray','6 4')});"
    "legend('lg-'+id.slice(5),ser)}\n"
    "function tseries(s){return s.v.map((_,i)=>(i+0.5)*s.step_s)}\n";

static const char *const script_series =
    "/* the series of the plots both pages draw: short-term loudness and spectrum per file\n"
    "   (the mix dashed), limiter gain reduction per export, multiband per band */\n"
    "const PLOT_ST={xlabel:'time',ylabel:'LUFS (3 s)'},"
    "PLOT_GR={xlabel:'time',ylabel:'gain dB',ymax:0},"
    "PLOT_SPEC={xlog:true,xlabel:'Hz',ylabel:'dBFS per band'};\n"
    "function stSeries(fs){return fs.filter(x=>x.short_term).map((x,i)=>({name:x.name,color:C[i%8],"
    "x:tseries(x.short_term),y:x.short_term.v,dash:i===0}))}\n"
    "function specSeries(fs){return fs.filter(x=>x.spectrum_db).map((x,i)=>({name:x.name,"
    "color:C[i%8],"
    "x:X.bands_hz,y:x.spectrum_db,dash:i===0}))}\n"
    "function grSeries(ex){const ser=[];ex.forEach((e,i)=>{"
    "const g=e.limiter&&e.limiter.gr_envelope;if(!g)return;ser.push({name:e.target,"
    "color:C[(i+1)%8],x:g.max_gr_db.map((_,k)=>(k+0.5)*g.interval_s),"
    "y:g.max_gr_db.map(v=>-v)})});return ser}\n"
    "function mbSeries(st){const ser=[];st.forEach(s=>{if(s.stage!=='multiband')return;"
    "s.bands.forEach((b,k)=>{if(!b.gr_envelope_db)return;ser.push({name:f(b.low_hz,0)+'\\u2013'+"
    "f(b.high_hz,0)+' Hz',color:C[k%8],"
    "x:b.gr_envelope_db.map((_,i)=>(i+0.5)*b.gr_envelope_interval_s),"
    "y:b.gr_envelope_db.map(v=>-v)})})});return ser}\n"
    "/* test hook (tests/test_html.c, URL fragment #lqtest): what every plot drew; then\n"
    "   lqTestDone adds the resources fetched and the CSP, and writes the result */\n"
    "function lqTestPlots(){const out={plots:{}};document.querySelectorAll('svg.plot').forEach(s=>{"
    "const ps=[...s.querySelectorAll('path.line')];const bb=s.getBBox();out.plots[s.id]={hidden:"
    "s.closest('section').hidden,lines:ps.length,"
    "points:ps.reduce((n,p)=>n+Number(p.dataset.points),0),"
    "width:bb.width,height:bb.height,view_width:s.viewBox.baseVal.width,view_height:"
    "s.viewBox.baseVal.height}});return out}\n"
    "function lqTestDone(out){"
    "out.resources=performance.getEntriesByType('resource').map(e=>e.name);"
    "out.csp=document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]').content;"
    "document.getElementById('lqtest-result').textContent=JSON.stringify(out)}\n";

static const char *const script_b =
    "const files=X.files;\n"
    "document.getElementById('meta').textContent=R.input.path+' \\u2014 preset '+R.preset.name+"
    "' \\u2014 lacquer '+R.lacquer.version;\n"
    "(function(){const b=document.getElementById('checkbody');const ck=R.check;"
    "const v=h('p',ck.verdict==='ready'?'Ready for mastering: no finding.':"
    "'Needs attention in the mix: mastering cannot fix these.','verdict '+(ck.verdict==='ready'?'ok':'bad'));"
    "b.appendChild(v);ck.findings.forEach(x=>{const d=h('div',null,'finding');"
    "d.appendChild(h('p',x.message));const w=h('p','Why: '+x.why,'mut');d.appendChild(w);"
    "d.appendChild(h('p','Fix: '+x.fix));const m=h('p','measured '+f(x.measured,2)+' '+x.unit+"
    "', threshold '+f(x.threshold,2)+' '+x.unit,'mut');d.appendChild(m);b.appendChild(d)})})();\n"
    "/* loudness over time */\n"
    "plot('plot-loudness',stSeries(files),PLOT_ST);\n"
    "/* limiter gain reduction per export */\n"
    "(function(){const ser=grSeries(R.exports);if(ser.length)plot('plot-gr',ser,PLOT_GR);"
    "else document.getElementById('sec-gr').hidden=true})();\n"
    "(function(){const ser=mbSeries(R.master.stages);if(ser.length)plot('plot-mb',ser,PLOT_GR);"
    "else document.getElementById('sec-mb').hidden=true})();\n"
    "plot('plot-spectrum',specSeries(files),PLOT_SPEC);\n"
    "(function(){const ser=[];R.master.stages.forEach((s,k)=>{if(!s.curve)return;"
    "for(const key in s.curve){if(key==='freq_hz')continue;ser.push({name:'EQ '+(k+1)+' '+"
    "key.replace('_db',''),color:C[ser.length%8],x:s.curve.freq_hz,y:s.curve[key]})}});"
    "if(ser.length)plot('plot-eq',ser,{xlog:true,xlabel:'Hz',ylabel:'dB'});"
    "else document.getElementById('sec-eq').hidden=true})();\n"
    "/* tables */\n"
    "(function(){const t=document.getElementById('targets');const hd=['target','file','LUFS',"
    "'aim','true peak','ceiling','codec round trips','verdict'];const tr=h('tr');"
    "hd.forEach(x=>tr.appendChild(h('th',x)));t.appendChild(tr);R.exports.forEach(e=>{"
    "const q=e.requirements;const r=h('tr');const cc=q.codec_checks.map(c=>c.codec+' '+"
    "f(c.true_peak_dbtp,2)+(c.pass?'':' \\u2717')).join(', ')||'-';"
    "[e.target,e.file,f(q.loudness.measured_lufs,2),f(q.loudness.target_lufs,1),"
    "f(q.true_peak.measured_dbtp,2)+' dBTP',f(q.true_peak.ceiling_dbtp,1)+' dBTP',cc,"
    "e.met?'met':'NOT met'].forEach((x,i)=>{const d=h('td',x);if(i===7)d.className=e.met?'ok':'bad';"
    "r.appendChild(d)});t.appendChild(r)})})();\n"
    "(function(){const t=document.getElementById('playback');const withpb=R.exports.filter(e=>e.playback);"
    "if(!withpb.length){t.appendChild(h('tr')).appendChild(h('td','(lossy exports only)'));return}"
    "const tr=h('tr');tr.appendChild(h('th','service'));withpb.forEach(e=>tr.appendChild(h('th',e.target)));"
    "t.appendChild(tr);withpb[0].playback.forEach((s,k)=>{const r=h('tr');r.appendChild(h('td',"
    "s.service+' ('+f(s.plays_at_lufs,0)+' LUFS)'));withpb.forEach(e=>{const g=e.playback[k].gain_db;"
    "r.appendChild(h('td',(g>0?'+':'')+f(g,1)+' dB'))});t.appendChild(r)})})();\n";

/* Reference matching (docs/REFERENCE.md): the spectra and the correction curve. */
static const char *const script_ref =
    "(function(){const F=R.reference;if(!F)return;document.getElementById('sec-ref').hidden=false;"
    "const ser=[{name:'mix',color:C[0],x:F.bands_hz,y:F.mix.mid_db,dash:true}];"
    "F.references.forEach((r,i)=>ser.push({name:'reference '+(i+1)+' ('+r.match_before_db.toFixed(2)+"
    "' \\u2192 '+r.match_after_db.toFixed(2)+' dB)',color:C[(i+2)%8],x:F.bands_hz,y:r.mid_db}));"
    "ser.push({name:'master',color:C[1],x:F.bands_hz,y:F.master.mid_db});"
    "plot('plot-refspec',ser,{xlog:true,xlabel:'Hz',ylabel:'dB'});"
    "plot('plot-refcurve',[{name:'correction mid',color:C[0],x:F.bands_hz,y:F.correction.mid_db},"
    "{name:'correction side',color:C[1],x:F.bands_hz,y:F.correction.side_db},"
    "{name:'reference - mix (mid, raw)',color:C[2],x:F.bands_hz,y:F.correction.difference_mid_db,"
    "dash:true}],{xlog:true,xlabel:'Hz',ylabel:'dB'})})();\n";

static const char *const script_c =
    "/* the level-matched A/B player */\n"
    "const AB={files:[],active:0};window.lqAB=AB;\n"
    "(function(){const box=document.getElementById('ab');const row=h('div');box.appendChild(row);"
    "files.forEach((x,i)=>{const a=document.createElement('audio');a.preload='none';"
    "if(x.src)a.src=x.src;a.volume=Math.pow(10,x.gain_db/20);box.appendChild(a);"
    "const b=h('button',x.name+(x.gain_db<-0.005?' ('+f(x.gain_db,1)+' dB)':''));"
    "b.dataset.gainDb=x.gain_db;b.dataset.lufs=x.lufs;b.onclick=()=>abSwitch(i,true);"
    "if(!x.src){b.disabled=true;b.title='no file to play'}row.appendChild(b);"
    "AB.files.push({name:x.name,src:x.src,lufs:x.lufs,gain_db:x.gain_db,audio:a,button:b})});"
    "const c=h('div',null,'ctl');const pb=h('button','\\u25b6 play');pb.onclick=()=>{const a="
    "AB.files[AB.active].audio;if(a.paused){a.play().catch(()=>{});pb.textContent='\\u275a\\u275a pause'}"
    "else{a.pause();pb.textContent='\\u25b6 play'}};c.appendChild(pb);const sk=document.createElement('input');"
    "sk.type='range';sk.min=0;sk.max=1000;sk.value=0;sk.oninput=()=>{const a=AB.files[AB.active].audio;"
    "if(isFinite(a.duration))a.currentTime=a.duration*sk.value/1000};c.appendChild(sk);"
    "const tm=h('span','0:00','mut');c.appendChild(tm);box.appendChild(c);"
    "setInterval(()=>{const a=AB.files[AB.active].audio;const t=a.currentTime||0;"
    "tm.textContent=Math.floor(t/60)+':'+String(Math.floor(t%60)).padStart(2,'0');"
    "if(isFinite(a.duration)&&a.duration>0)sk.value=Math.round(1000*t/a.duration)},250);"
    "abSwitch(files[0].src||files.length<2?0:1,false)})();\n"
    "/* switch to file k at the same playback position, playing on if it was */\n"
    "function abSwitch(k,user){const cur=AB.files[AB.active].audio,nx=AB.files[k].audio;"
    "const t=cur.currentTime,playing=!cur.paused;if(k!==AB.active){cur.pause();nx.currentTime=t;"
    "nx.volume=Math.pow(10,AB.files[k].gain_db/20);if(playing)nx.play().catch(()=>{})}"
    "AB.active=k;AB.files.forEach((x,i)=>x.button.classList.toggle('on',i===k));return user}\n"
    "window.abSwitch=abSwitch;\n"
    "/* test hook (tests/test_html.c): report what was drawn and how the player behaves */\n"
    "if(location.hash==='#lqtest'){const out=lqTestPlots();out.ab=[];out.switch=[];"
    "AB.files.forEach(x=>out.ab.push({name:x.name,lufs:x.lufs,gain_db:x.gain_db,"
    "data_gain_db:Number(x.button.dataset.gainDb),volume_db:20*Math.log10(x.audio.volume),src:x.src}));"
    "const pos=[12.5,33.25,7.125];for(let k=1;k<AB.files.length&&k<=pos.length;k++){"
    "AB.files[AB.active].audio.currentTime=pos[k-1];abSwitch(k,false);out.switch.push({to:k,"
    "set:pos[k-1],got:AB.files[k].audio.currentTime})}abSwitch(0,false);"
    "out.switch.push({to:0,set:pos[Math.min(pos.length,AB.files.length-1)-1],"
    "got:AB.files[0].audio.currentTime});lqTestDone(out)}\n";

/* Append s to the growing buffer; 0 on success. */
static int cat(char **buf, size_t *len, size_t *cap, const char *s)
{
    size_t n = strlen(s);
    if (*len + n + 1 > *cap) {
        size_t c = (*len + n + 1) * 2;
        char *b = realloc(*buf, c);
        if (!b) return -1;
        *buf = b;
        *cap = c;
    }
    memcpy(*buf + *len, s, n + 1);
    *len += n;
    return 0;
}

/* JSON for a <script type="application/json"> block: "</" written as "<\/" (the
 * same string in JSON), so no "</script>" can end the block early. */
static char *json_for_script(const json_t *o)
{
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!s) return NULL;
    size_t n = 0;
    for (const char *p = s; *p; p++) n += p[0] == '<' && p[1] == '/';
    char *out = malloc(strlen(s) + n + 1);
    if (out) {
        char *o2 = out;
        for (const char *p = s; *p; p++) {
            *o2++ = *p;
            if (p[0] == '<' && p[1] == '/') *o2++ = '\\';
        }
        *o2 = 0;
    }
    free(s);
    return out;
}

char *lq_html_page(const char *body, json_t *report, json_t *extra, const char *const *scripts,
                   size_t n_scripts)
{
    char *rs = report ? json_for_script(report) : NULL, *xs = extra ? json_for_script(extra) : NULL;
    json_decref(report);
    json_decref(extra);
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int bad = !rs || !xs;
    if (!bad)
        bad = cat(&buf, &len, &cap, head_html) || cat(&buf, &len, &cap, body) ||
              cat(&buf, &len, &cap, "<script type=\"application/json\" id=\"lq-report\">") ||
              cat(&buf, &len, &cap, rs) ||
              cat(&buf, &len, &cap, "</script>\n<script type=\"application/json\" "
                                    "id=\"lq-extra\">") ||
              cat(&buf, &len, &cap, xs) || cat(&buf, &len, &cap, "</script>\n") ||
              cat(&buf, &len, &cap, script_a) || cat(&buf, &len, &cap, script_series);
    for (size_t i = 0; i < n_scripts && !bad; i++) bad = cat(&buf, &len, &cap, scripts[i]);
    if (!bad) bad = cat(&buf, &len, &cap, "</script>\n</main></body></html>\n");
    free(rs);
    free(xs);
    if (bad) {
        free(buf);
        return NULL;
    }
    return buf;
}

char *lq_job_report_html(const lq_job *j)
{
    if (!j || !j->ran) return NULL;
    const char *const scripts[] = {script_b, script_ref, script_c};
    return lq_html_page(body_html, lq_report_build(j), extra_json(j), scripts, 3);
}
