// The status page served at `/` on the admin port: one self-contained HTML file (no
// external assets, so it works on an isolated management network). It polls
// /api/status every 2 s; a bearer token, when the API needs one, is taken from the
// URL fragment (#token=…), which browsers never send to the server or to logs.
export const STATUS_PAGE_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Vantage selector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:20px;margin:0 0 4px} h2{font-size:16px;margin:24px 0 8px}
.meta{color:#5b6475;font-size:12px} .err{color:#b00020;font-weight:600}
table{border-collapse:collapse;background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08)}
th,td{padding:6px 10px;border:1px solid #e1e4ea;text-align:center;white-space:nowrap}
th{background:#eef0f4;font-weight:600} td.agent{text-align:left}
td.cell{min-width:70px;font-variant-numeric:tabular-nums;font-weight:600}
td.down{background:#3b0a0a!important;color:#fff} td.drained{background:#d5d8de;color:#555} td.nodata{color:#98a0ae}
td.first{font-weight:700} .state{font-size:11px;padding:1px 6px;border-radius:8px;margin-left:6px}
.online{background:#d7f5df;color:#135c2b}.stale{background:#fff0c2;color:#6b5200}.offline{background:#f8d7da;color:#7a1020}
.legend span{display:inline-block;padding:2px 8px;margin-right:4px;border-radius:3px;font-size:12px}
tr.default td{background:#fafbfc;font-style:italic} tr.inactive td{opacity:.55}
#ranges button{font:inherit;padding:3px 10px;margin-right:4px;border:1px solid #c9ced8;background:#fff;border-radius:4px;cursor:pointer}
#ranges button.on{background:#1d2330;color:#fff;border-color:#1d2330} .timeline{background:#fff;box-shadow:0 1px 2px rgba(0,0,0,.08);margin-bottom:16px;overflow-x:auto}
</style></head>
<body>
<h1>Vantage selector</h1>
<div class="meta">Median total latency of successful probes in the ranking window, per agent (POP) × site. Refreshes every 2 s. <span id="updated"></span> <span id="error" class="err"></span></div>
<div class="meta" id="broker"></div>
<div class="legend" id="legend"></div>
<div id="services"></div>
<div id="lbs"></div>
<h2>Timelines</h2>
<div class="meta">Per POP: each site's latency (log scale), the first choice as a band under the lines, site down/up (triangles) and first-choice changes (dashed) — hover a marker for its evidence.</div>
<div id="ranges"><button data-ms="900000">15 min</button><button data-ms="3600000" class="on">1 h</button><button data-ms="21600000">6 h</button><button data-ms="86400000">24 h</button></div>
<div id="timelines"></div>
<script>
(function(){
  var token = (location.hash.match(/token=([^&]+)/) || [])[1];
  function esc(s){ return String(s == null ? '' : s).replace(/[&<>"']/g, function(c){ return '&#' + c.charCodeAt(0) + ';'; }); }
  // Green (fast) → yellow → red (slow) on a log scale from 5 ms to 1000 ms.
  function colour(ms){
    var t = Math.max(0, Math.min(1, (Math.log(Math.max(ms, 5)) - Math.log(5)) / (Math.log(1000) - Math.log(5))));
    var hue = 130 * (1 - t);
    return 'hsl(' + hue.toFixed(0) + ',70%,' + (78 - 18 * t).toFixed(0) + '%)';
  }
  function legend(){
    var el = document.getElementById('legend');
    el.innerHTML = [5, 20, 50, 200, 1000].map(function(ms){ return '<span style="background:' + colour(ms) + '">' + ms + ' ms</span>'; }).join('')
      + '<span style="background:#3b0a0a;color:#fff">DOWN</span><span style="background:#d5d8de">drained</span>';
  }
  function cell(site, c){
    if (site.drained) return '<td class="cell drained">drained</td>';
    if (!c || c.state === 'no_data') return '<td class="cell nodata">–</td>';
    var ms = c.medianMs == null ? 'n/a' : (Math.round(c.medianMs * 10) / 10) + ' ms';
    if (c.state === 'down') return '<td class="cell down" title="down from this agent">DOWN<br><small>' + esc(ms) + '</small></td>';
    var fail = c.failureShare ? ' <small>(' + Math.round(c.failureShare * 100) + '% fail)</small>' : '';
    return '<td class="cell" style="background:' + (c.medianMs == null ? '#fff' : colour(c.medianMs)) + '">' + esc(ms) + fail + '</td>';
  }
  function render(data){
    var html = '';
    data.services.forEach(function(svc){
      html += '<h2>' + esc(svc.name) + ' <span class="meta">policy ' + esc(svc.policy) + '</span></h2><table><thead><tr><th>agent</th><th>POP</th><th>data age</th>';
      svc.sites.forEach(function(s){ html += '<th title="' + esc(s.address) + '">' + esc(s.id) + '</th>'; });
      html += '<th>first choice</th></tr></thead><tbody>';
      svc.rows.forEach(function(r){
        html += '<tr class="' + (r.agent === 'default' ? 'default' : r.state !== 'online' ? 'inactive' : '') + '" data-agent="' + esc(r.agent) + '"><td class="agent">' + esc(r.agent)
          + '<span class="state ' + esc(r.state) + '">' + esc(r.state) + '</span></td><td>' + esc(r.pop) + '</td><td>'
          + (r.dataAgeS == null ? '–' : r.dataAgeS.toFixed(1) + ' s') + '</td>';
        svc.sites.forEach(function(s){ html += cell(s, r.cells[s.id]); });
        html += '<td class="first">' + esc(r.first || '–') + (r.firstVia === 'default' ? ' <small>(via default)</small>' : '') + '</td></tr>';
      });
      html += '</tbody></table>';
    });
    if (!data.services.length) html = '<p>No services configured.</p>';
    document.getElementById('services').innerHTML = html;
    document.getElementById('updated').textContent = 'Updated ' + new Date(data.ts).toLocaleTimeString() + '.';
    var b = data.broker, el = document.getElementById('broker');
    // DNS answers from persisted state whatever the bus does; say when no broker is reachable.
    el.className = b && !b.connected ? 'meta err' : 'meta';
    el.textContent = !b ? '' : b.connected
      ? (b.mode === 'embedded' ? 'Embedded MQTT broker on ' : 'Connected to MQTT broker ') + (b.url || '') + '.'
      : 'No MQTT broker reachable since ' + new Date(b.sinceMs).toLocaleTimeString() + (b.lastError ? ' (' + b.lastError + ')' : '') + ': answering from stored measurements.';
  }
  // A backbone (federation) also lists its LBs; any other selector answers /api/lbs with 404.
  function renderLbs(list){
    var html = '<h2>LBs <span class="meta">reporting to this backbone</span></h2><table id="lb-table"><thead><tr><th>LB</th><th>label</th><th>state</th><th>rankings</th><th>seq</th><th>data age</th><th>agents</th><th>prefixes</th><th>name servers</th><th>answers push / refer / child / fallback</th></tr></thead><tbody>';
    list.forEach(function(l){
      var st = l.state === 'online' ? 'online' : 'offline';
      html += '<tr data-lb="' + esc(l.id) + '" class="' + (st === 'online' ? '' : 'inactive') + '"><td class="agent">' + esc(l.id) + '</td><td>' + esc(l.label) + '</td><td><span class="state ' + st + '">' + esc(l.state) + '</span></td><td>'
        + (l.seq == null ? '–' : l.pushFresh ? '<span class="state online">fresh</span>' : '<span class="state stale">stale</span>') + '</td><td>' + (l.seq == null ? '–' : esc(l.seq)) + '</td><td>'
        + (l.rankingsAgeS == null ? '–' : l.rankingsAgeS.toFixed(1) + ' s') + '</td><td>' + esc(l.agents) + '</td><td>' + esc(l.prefixes.length) + '</td><td>'
        + esc(l.nameservers.map(function(n){ return n.name + ' ' + n.address; }).join(', ') || '–') + '</td><td>'
        + esc(l.answers.push + ' / ' + l.answers.refer + ' / ' + l.answers.child + ' / ' + l.answers.fallback) + '</td></tr>';
    });
    document.getElementById('lbs').innerHTML = html + '</tbody></table>';
  }
  function refresh(){
    fetch('/api/lbs', { headers: token ? { authorization: 'Bearer ' + decodeURIComponent(token) } : {} })
      .then(function(r){ return r.ok ? r.json() : null; })
      .then(function(l){ if (l) renderLbs(l); else document.getElementById('lbs').innerHTML = ''; }, function(){});
    fetch('/api/status', { headers: token ? { authorization: 'Bearer ' + decodeURIComponent(token) } : {} })
      .then(function(r){ if (!r.ok) throw new Error('HTTP ' + r.status); return r.json(); })
      .then(function(d){ document.getElementById('error').textContent = ''; render(d); },
            function(e){ document.getElementById('error').textContent = 'cannot reach the selector: ' + e.message; });
  }
  // Timelines: JSON (kept on window.vantageTimelines for tools and tests) and the
  // server-rendered SVG per service, refreshed every 10 s and when the range changes.
  var rangeMs = 3600000, services = [];
  window.vantageTimelines = {};
  function get(path, type){
    return fetch(path, { headers: token ? { authorization: 'Bearer ' + decodeURIComponent(token) } : {} })
      .then(function(r){ if (!r.ok) throw new Error('HTTP ' + r.status); return type === 'json' ? r.json() : r.text(); });
  }
  function timelines(){
    var box = document.getElementById('timelines');
    var width = Math.max(300, Math.min(1400, box.clientWidth || 900));
    services.forEach(function(name){
      var id = 'tl-' + name.replace(/[^a-z0-9]/gi, '_');
      var el = document.getElementById(id);
      if (!el) { el = document.createElement('div'); el.id = id; el.className = 'timeline'; box.appendChild(el); }
      var q = '?service=' + encodeURIComponent(name) + '&sinceMs=' + rangeMs + '&width=' + width;
      Promise.all([get('/api/timeline' + q, 'json'), get('/api/timeline.svg' + q, 'text')]).then(function(r){
        window.vantageTimelines[name] = r[0];
        el.innerHTML = '<h3 style="margin:8px">' + esc(name) + '</h3>' + r[1];
        el.setAttribute('data-loaded', String(rangeMs));
      }, function(e){ document.getElementById('error').textContent = 'timeline: ' + e.message; });
    });
  }
  document.getElementById('ranges').addEventListener('click', function(e){
    var ms = e.target && e.target.getAttribute('data-ms');
    if (!ms) return;
    rangeMs = Number(ms);
    [].forEach.call(document.querySelectorAll('#ranges button'), function(b){ b.className = b === e.target ? 'on' : ''; });
    timelines();
  });
  var firstRender = render;
  render = function(data){
    firstRender(data);
    var names = data.services.map(function(s){ return s.name; });
    if (names.join() !== services.join()) { services = names; timelines(); }
  };
  legend(); refresh(); setInterval(refresh, 2000); setInterval(timelines, 10000);
})();
</script>
</body></html>
`;
