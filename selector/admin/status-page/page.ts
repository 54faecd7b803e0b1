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
</style></head>
<body>
<h1>Vantage selector</h1>
<div class="meta">Median total latency of successful probes in the ranking window, per agent (POP) × site. Refreshes every 2 s. <span id="updated"></span> <span id="error" class="err"></span></div>
<div class="legend" id="legend"></div>
<div id="services"></div>
<div id="lbs"></div>
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
  legend(); refresh(); setInterval(refresh, 2000);
})();
</script>
</body></html>
`;
