/* The album's report.html: the page of report_html.c (its head, CSP, plotting script and
 * test hook, via report/html.h) with the album's report.json embedded: the record's
 * figures per target, a plot of every track's loudness across the record, a table per
 * target with a row per track, the CD layout, the crossfades, the mix check's findings
 * per track, then a section per track with the plots `master`'s page draws (short-term
 * loudness and spectrum of the mix and each target's file, the limiter's and the
 * multiband compressor's gain reduction).  Built from an lq_album's results only. */
#include <stdlib.h>

#include "album/run.h"
#include "report/html.h"
#include "report/report.h"

static const char *const album_body =
    "<h1>Album report</h1><p class=\"mut\" id=\"meta\"></p>\n"
    "<section id=\"record\"><h2>The record</h2><div class=\"tw\"><table id=\"figures\"></table>"
    "</div><div id=\"warnings\"></div></section>\n"
    "<section><h2>Track loudness across the record</h2><div class=\"legend\" "
    "id=\"lg-levels\"></div><svg class=\"plot\" id=\"plot-levels\" viewBox=\"0 0 800 260\">"
    "</svg></section>\n"
    "<section><h2>Tracks</h2><div id=\"rows\"></div></section>\n"
    "<section id=\"sec-cd\" hidden><h2>CD layout</h2><div id=\"cd\"></div></section>\n"
    "<section id=\"sec-xf\" hidden><h2>Crossfades</h2><p class=\"mut\">Two tracks summed over "
    "each overlap; where that passed the ceiling, the join went through the true-peak "
    "limiter.</p><div class=\"tw\"><table id=\"xf\"></table></div></section>\n"
    "<section id=\"check\"><h2>The mixes</h2><div id=\"checkbody\"></div></section>\n"
    "<div id=\"tracks\"></div>\n"
    "<pre id=\"lqtest-result\" hidden></pre>\n";

static const char *const album_script =
    "const A=R.album;\n"
    "document.getElementById('meta').textContent=A.title+' \\u2014 '+A.artist+' \\u2014 '+"
    "A.tracks+' tracks \\u2014 loudness '+A.loudness+(A.loudness==='album'?' (anchor '+"
    "A.album_anchor+')':'')+' \\u2014 lacquer '+R.lacquer.version;\n"
    "function table(t,hd,rows,verdictCol){const tr=h('tr');"
    "hd.forEach(x=>tr.appendChild(h('th',x)));"
    "t.appendChild(tr);rows.forEach(r=>{const q=h('tr');r.forEach((x,i)=>{const d=h('td',x);"
    "if(i===verdictCol)d.className=x==='met'?'ok':'bad';q.appendChild(d)});t.appendChild(q)})}\n"
    "/* the record's figures per target, and its warnings */\n"
    "table(document.getElementById('figures'),['target','album LUFS','track spread','album gain',"
    "'aim','duration','dither','longest gap'],R.targets.map(x=>[x.target,"
    "f(x.album_integrated_lufs,2),"
    "f(x.track_loudness_spread_lu,2)+' LU',(x.album_gain_db>0?'+':'')+f(x.album_gain_db,2)+' dB',"
    "x.aim_lufs==null?'-':f(x.aim_lufs,1),f(x.duration_s,1)+' s',x.dither?x.dither.type+', '+"
    "x.dither.shaping:'-',f(A.longest_gap_s,1)+' s']));\n"
    "R.album_warnings.forEach(w=>{const d=h('div',null,'finding');d.appendChild(h('p',w));"
    "document.getElementById('warnings').appendChild(d)});\n"
    "plot('plot-levels',R.targets.map((x,k)=>({name:x.target,color:C[k%8],"
    "x:R.tracks.map(t=>t.track),y:R.tracks.map(t=>t.targets[k].integrated_lufs)})),"
    "{xint:true,xlabel:'track',ylabel:'LUFS'});\n"
    "/* a table per target, a row per track */\n"
    "(function(){const box=document.getElementById('rows');R.targets.forEach((x,k)=>{"
    "box.appendChild(h('h3',x.target));const w=h('div',null,'tw');const t=h('table');"
    "w.appendChild(t);"
    "box.appendChild(w);table(t,['#','track','LUFS','LRA','true peak','PLR','gain','limiter',"
    "'aim','verdict'],R.tracks.map(tr=>{const e=tr.targets[k];return[String(tr.track),tr.title,"
    "f(e.integrated_lufs,2),f(e.loudness_range_lu,1),f(e.true_peak_dbtp,2)+' dBTP',f(e.plr_db,1),"
    "(e.gain_db>0?'+':'')+f(e.gain_db,2)+' dB',(e.limiter_reduction_db>=0.05?'-':'')+"
    "f(e.limiter_reduction_db,1)+' dB',"
    "e.aim_lufs==null?'-':f(e.aim_lufs,2),e.met?'met':'NOT met']}),9)})})();\n"
    "/* the CD layout: where each track starts in the image */\n"
    "(function(){const box=document.getElementById('cd');R.targets.forEach(x=>{if(!x.cd)return;"
    "document.getElementById('sec-cd').hidden=false;box.appendChild(h('h3',x.target+': '+"
    "x.cd.image.split('/').pop()+', true peak '+f(x.cd.image_true_peak_dbtp,2)+' dBTP'));"
    "const w=h('div',null,'tw');const t=h('table');w.appendChild(t);box.appendChild(w);"
    "table(t,['track','INDEX 00','INDEX 01','sample'],x.cd.tracks.map(c=>[String(c.track),"
    "c.index00_msf||'-',c.index01_msf,String(c.index01_sample)]))})})();\n"
    "(function(){const rows=[];R.targets.forEach(x=>(x.crossfades||[]).forEach(c=>rows.push(["
    "x.target,c.from_track+' \\u2192 '+c.to_track,f(c.overlap_true_peak_dbtp,2)+' dBTP',"
    "f(c.ceiling_dbtp,2)+' dBTP',c.limiter_reduction_db>0?'-'+f(c.limiter_reduction_db,2)+' dB':"
    "'none needed'])));if(!rows.length)return;document.getElementById('sec-xf').hidden=false;"
    "table(document.getElementById('xf'),['target','crossfade','summed peak','ceiling','limited'],"
    "rows)})();\n";

static const char *const album_script_tracks =
    "/* the mix check per track (the findings of `lacquer check`) */\n"
    "(function(){const b=document.getElementById('checkbody');let n=0;R.tracks.forEach(t=>{"
    "const ck=t.report.check;ck.findings.forEach(x=>{n++;const d=h('div',null,'finding');"
    "d.appendChild(h('p','Track '+t.track+' ('+t.title+'): '+x.message));d.appendChild(h('p',"
    "'Why: '+x.why,'mut'));d.appendChild(h('p','Fix: '+x.fix));d.appendChild(h('p','measured '+"
    "f(x.measured,2)+' '+x.unit+', threshold '+f(x.threshold,2)+' '+x.unit,'mut'));"
    "b.appendChild(d)})});b.insertBefore(h('p',n?'Needs attention in the mix: mastering cannot "
    "fix these.':'Every track ready for mastering: no finding.','verdict '+(n?'bad':'ok')),"
    "b.firstChild)})();\n"
    "/* a section per track: the plots of `master`'s page, for this track */\n"
    "(function(){const box=document.getElementById('tracks');R.tracks.forEach((t,i)=>{"
    "const T=t.report,fs=X.tracks[i];const s=h('section');s.appendChild(h('h2','Track '+t.track+"
    "': '+t.title));box.appendChild(s);"
    "function mk(name,title,hgt){s.appendChild(h('h3',title));const lg=h('div',null,'legend');"
    "lg.id='lg-t'+t.track+'-'+name;s.appendChild(lg);return el('svg',{class:'plot',id:'plot-t'+"
    "t.track+'-'+name,viewBox:'0 0 800 '+hgt},s).id}"
    "let ser=stSeries(fs);if(ser.length)plot(mk('loudness','Short-term loudness',260),ser,PLOT_ST);"
    "ser=grSeries(T.exports);if(ser.length)plot(mk('gr','Limiter gain reduction',220),ser,PLOT_GR);"
    "ser=mbSeries(T.master.stages);if(ser.length)plot(mk('mb','Multiband compressor gain "
    "reduction',220),ser,PLOT_GR);"
    "ser=specSeries(fs);if(ser.length)plot(mk('spectrum','Spectrum (third octaves, long-term "
    "average)',260),ser,PLOT_SPEC)})})();\n"
    "if(location.hash==='#lqtest')lqTestDone(lqTestPlots());\n";

void lq_album_set_html(lq_album *a, int on)
{
    if (a) a->no_html = !on;
}

char *lq_album_report_html(const lq_album *a)
{
    if (!a || !a->ran) return NULL;
    json_t *x = json_object(), *tracks = json_array();
    if (!x || !tracks) {
        json_decref(x);
        json_decref(tracks);
        return NULL;
    }
    json_object_set_new(x, "bands_hz", lq_html_bands());
    for (size_t i = 0; i < a->n_jobs; i++)
        json_array_append_new(tracks, lq_html_job_files(a->jobs[i]));
    json_object_set_new(x, "tracks", tracks);
    const char *const scripts[] = {album_script, album_script_tracks};
    return lq_html_page(album_body, lq_album_report_build(a), x, scripts, 2);
}
