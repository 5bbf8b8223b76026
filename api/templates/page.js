// The planners' page: start a re-run, poll its job, then show its map and responsibility table.
// Everything from the server is inserted with textContent (never as HTML).
// Every request says the page's language (Accept-Language), so problem answers come back in it.
var PAGE_LANG = document.documentElement.lang === 'en' ? 'en' : 'zh-CN';
(function () {
  'use strict';
  var form = document.getElementById('rerun-form');
  if (!form) { return; }
  var zh = form.dataset.lang !== 'en';
  var dataset = form.dataset.dataset;
  var $ = function (id) { return document.getElementById(id); };
  // status words come from the server's glossary: the form's data attributes, then each job's status_text
  var STATUS = {accepted: form.dataset.statusAccepted, successful: form.dataset.statusSuccessful};
  var lang = zh ? 'zh' : 'en';

  // Authentication rides on the session cookie (same-origin fetches send it); the browser adds
  // the Origin header the server checks on POST.
  function headers(json) {
    var h = {'Accept': 'application/json', 'Accept-Language': PAGE_LANG};
    if (json) { h['Content-Type'] = 'application/json'; }
    return h;
  }
  function showError(text) {
    var e = $('error'); e.textContent = text; e.hidden = false;
    $('progress').hidden = true;  // a refused or failed run is not waiting in the queue
    $('rerun-submit').disabled = false;
    document.body.dataset.runState = 'failed';
  }
  function problemText(body, status) {
    var text = 'HTTP ' + status;
    if (body && (body.detail || body.title)) { text = (body.title || '') + (body.detail ? (zh ? '：' : ': ') + body.detail : ''); }
    if (status === 401) { text += zh ? '（登录已过期，请重新登录）' : ' (the login expired: log in again)'; }
    return text;
  }
  function setProgress(p, text) {
    var bar = $('progress-bar'), v = Math.max(0, Math.min(100, Math.round(p || 0)));
    bar.style.width = v + '%'; bar.textContent = v + '%'; bar.setAttribute('aria-valuenow', String(v));
    $('progress-text').textContent = text || '';
  }
  function renderTable(rows) {
    var box = $('result-table');
    box.textContent = '';
    if (!rows || !rows.length) { box.textContent = zh ? '（空）' : '(empty)'; return; }
    var cols = Object.keys(rows[0]);
    var t = document.createElement('table'); t.className = 'table table-sm table-striped';
    var tr = t.createTHead().insertRow();
    cols.forEach(function (c) { var th = document.createElement('th'); th.textContent = c; tr.appendChild(th); });
    var tb = t.createTBody();
    rows.forEach(function (r) {
      var row = tb.insertRow();
      cols.forEach(function (c) { row.insertCell().textContent = (r[c] === null || r[c] === undefined) ? '' : String(r[c]); });
    });
    box.appendChild(t);
  }
  function finished(job) {
    var st = job.status_text || STATUS.successful;
    setProgress(100, st + (job.message_text && job.message_text !== st ? ' · ' + job.message_text : ''));
    document.dispatchEvent(new CustomEvent('gs:runs-changed'));
    $('progress-bar').classList.remove('progress-bar-striped');
    $('progress-bar').classList.add('bg-success');
    $('result-map').href = '/v1/datasets/' + encodeURIComponent(dataset) + '/maps/assignment?job=' +
      encodeURIComponent(job.id) + '&lang=' + (zh ? 'zh' : 'en');
    $('result-xlsx').href = '/v1/jobs/' + encodeURIComponent(job.id) + '/results?format=xlsx';
    form.dataset.previous = job.id;
    $('minimal').disabled = false;
    fetch('/v1/jobs/' + encodeURIComponent(job.id) + '/results?format=json&table=responsibility&lang=' + (zh ? 'zh' : 'en'), {headers: headers(false), credentials: 'same-origin'})
      .then(parse)
      .then(function (res) {
        $('result').hidden = false;
        $('rerun-submit').disabled = false;
        if (!res.ok) { $('result-table').textContent = problemText(res.body, res.status); document.body.dataset.runState = 'done-without-table'; return; }
        renderTable(res.body.rows);
        document.body.dataset.runState = 'done';
      })
      .catch(function (e) { showError(String(e)); });
  }
  function parse(r) {
    return r.text().then(function (t) {
      var b = null;
      try { b = JSON.parse(t); } catch (e) { b = {detail: t.slice(0, 200)}; }
      return {ok: r.ok, status: r.status, body: b};
    });
  }
  function poll(url) {
    fetch(url, {headers: headers(false), credentials: 'same-origin'})
      .then(parse)
      .then(function (res) {
        if (!res.ok) { showError(problemText(res.body, res.status)); return; }
        var job = res.body;
        var words = job.status_text || job.status, said = job.message_text || job.message;
        if (said === words) { said = ''; }
        setProgress(job.progress, words + (said ? ' · ' + said : ''));
        if (job.status === 'successful') { finished(job); }
        else if (job.status === 'failed' || job.status === 'dismissed') {
          showError(words + (job.error && job.error.detail ? (zh ? '：' : ': ') + job.error.detail : (said ? (zh ? '：' : ': ') + said : '')));
        } else { setTimeout(function () { poll(url); }, 700); }
      })
      .catch(function (e) { showError(String(e)); });
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    $('error').hidden = true; $('result').hidden = true;
    var num = function (id) { return Number($(id).value); };
    var body = {constituents_min: num('c_min'), constituents_max: num('c_max'),
                villages_min: num('v_min'), villages_max: num('v_max'),
                townships_per_committee: num('t_per'), gap_threshold_m: num('thr')};
    body.constituents_target = Math.round((body.constituents_min + body.constituents_max) / 2);
    body.villages_target = Math.round((body.villages_min + body.villages_max) / 2);
    if ($('minimal').checked && form.dataset.previous) {
      body.minimal_change = true; body.previous_job_id = form.dataset.previous;
    }
    $('rerun-submit').disabled = true;
    $('progress').hidden = false;
    $('progress-bar').classList.remove('bg-success');
    $('progress-bar').classList.add('progress-bar-striped');
    setProgress(0, STATUS.accepted);
    document.body.dataset.runState = 'running';
    fetch('/v1/datasets/' + encodeURIComponent(dataset) + '/optimisations',
          {method: 'POST', headers: headers(true), body: JSON.stringify(body), credentials: 'same-origin'})
      .then(parse)
      .then(function (res) {
        if (!res.ok) { showError(problemText(res.body, res.status)); return; }
        poll('/v1/jobs/' + encodeURIComponent(res.body.id) + '?lang=' + lang);
      })
      .catch(function (e) { showError(String(e)); });
  });
})();


// The duty roster: re-plan from a month for some months, poll the job, then reload the
// page so its "本月值班" section shows the new roster.
(function () {
  'use strict';
  var form = document.getElementById('roster-form');
  if (!form) { return; }
  var zh = form.dataset.lang !== 'en';
  var $ = function (id) { return document.getElementById(id); };
  // status words come from the glossary through the form's data-status-* attributes
  var STATUS = {accepted: form.dataset.statusAccepted, running: form.dataset.statusRunning,
                successful: form.dataset.statusSuccessful, failed: form.dataset.statusFailed,
                dismissed: form.dataset.statusDismissed};
  var H = {'Accept': 'application/json', 'Accept-Language': PAGE_LANG};
  function parse(r) {
    return r.text().then(function (t) {
      var b = null;
      try { b = JSON.parse(t); } catch (e) { b = {detail: t.slice(0, 200)}; }
      return {ok: r.ok, status: r.status, body: b};
    });
  }
  function fail(text) {
    var e = $('roster-error'); e.textContent = text; e.hidden = false;
    $('roster-progress').hidden = true;
    $('roster-submit').disabled = false;
    document.body.dataset.rosterState = 'failed';
  }
  function problem(res) {
    var b = res.body || {};
    return (b.title || ('HTTP ' + res.status)) + (b.detail ? (zh ? '：' : ': ') + b.detail : '');
  }
  function poll(url) {
    fetch(url, {headers: H, credentials: 'same-origin'}).then(parse).then(function (res) {
      if (!res.ok) { fail(problem(res)); return; }
      var job = res.body;
      $('roster-progress').textContent = (STATUS[job.status] || job.status) + ' · ' + Math.round(job.progress || 0) + '%' +
        (job.message ? ' · ' + job.message : '');
      if (job.status === 'successful') { document.body.dataset.rosterState = 'done'; window.location.reload(); }
      else if (job.status === 'failed' || job.status === 'dismissed') {
        fail((STATUS[job.status] || job.status) + (job.error && job.error.detail ? ': ' + job.error.detail : ''));
      } else { setTimeout(function () { poll(url); }, 700); }
    }).catch(function (e) { fail(String(e)); });
  }
  form.addEventListener('submit', function (ev) {
    ev.preventDefault();
    $('roster-error').hidden = true;
    $('roster-submit').disabled = true;
    $('roster-progress').hidden = false;
    $('roster-progress').textContent = STATUS.accepted;
    document.body.dataset.rosterState = 'running';
    var body = {start: $('r_start').value, months: Number($('r_months').value)};
    fetch('/v1/datasets/' + encodeURIComponent(form.dataset.dataset) + '/rosters',
          {method: 'POST', headers: {'Accept': 'application/json', 'Content-Type': 'application/json', 'Accept-Language': PAGE_LANG},
           body: JSON.stringify(body), credentials: 'same-origin'})
      .then(parse).then(function (res) {
        if (!res.ok) { fail(problem(res)); return; }
        poll('/v1/jobs/' + encodeURIComponent(res.body.id));
      }).catch(function (e) { fail(String(e)); });
  });
})();


// The runs list follows the store: every job of the dataset (page, API or command line), refreshed
// every few seconds while the page is open and at once when a run started here finishes; no reload.
(function () {
  'use strict';
  var box = document.getElementById('runs');
  if (!box) { return; }
  var dataset = box.dataset.dataset, lang = box.dataset.lang === 'en' ? 'en' : 'zh', zh = lang === 'zh';
  var KIND = zh ? {optimisation: '优化', roster: '排班', batch: '批量', gaps: '补点'}
                : {optimisation: 'optimisation', roster: 'roster', batch: 'batch', gaps: 'gap closing'};
  var last = '';
  function cell(row, text) { row.insertCell().textContent = text === null || text === undefined ? '' : String(text); }
  function link(td, href, text, blank) {
    var a = document.createElement('a'); a.href = href; a.textContent = text;
    if (blank) { a.target = '_blank'; }
    td.appendChild(a);
  }
  function render(jobs) {
    var key = JSON.stringify(jobs.map(function (j) { return [j.id, j.status, Math.round(j.progress || 0), j.message_text]; }));
    if (key === last) { return; }
    last = key;
    var tb = document.querySelector('#runs-table tbody');
    tb.textContent = '';
    jobs.forEach(function (j) {
      var tr = tb.insertRow(), st = j.status_text || j.status, said = j.message_text || j.message || '';
      tr.dataset.job = j.id; tr.dataset.status = j.status;
      var code = document.createElement('code'); code.textContent = String(j.id).slice(0, 8); tr.insertCell().appendChild(code);
      cell(tr, KIND[j.kind] || j.kind); cell(tr, st); cell(tr, Math.round(j.progress || 0) + '%');
      cell(tr, String(j.created_at || '').slice(0, 19).replace('T', ' ')); cell(tr, said === st ? '' : said);
      var td = tr.insertCell();
      if (j.status === 'successful' && j.kind === 'optimisation') {
        link(td, '/v1/datasets/' + encodeURIComponent(dataset) + '/maps/assignment?job=' + encodeURIComponent(j.id) + '&lang=' + lang, zh ? '地图' : 'map', true);
        td.appendChild(document.createTextNode(' · '));
        link(td, '/v1/jobs/' + encodeURIComponent(j.id) + '/results?format=xlsx', 'XLSX', false);
      } else if (j.status === 'successful' && j.kind === 'roster') {
        link(td, '/v1/datasets/' + encodeURIComponent(dataset) + '/maps/roster?job=' + encodeURIComponent(j.id) + '&lang=' + lang, zh ? '地图' : 'map', true);
      }
    });
    document.getElementById('runs-box').hidden = jobs.length === 0;
    document.getElementById('no-runs').hidden = jobs.length > 0;
    document.body.dataset.runsShown = String(jobs.length);
  }
  function refresh() {
    fetch('/v1/jobs?dataset=' + encodeURIComponent(dataset) + '&limit=20&lang=' + lang,
          {headers: {'Accept': 'application/json', 'Accept-Language': PAGE_LANG}, credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) { if (b && b.jobs) { render(b.jobs); } })
      .catch(function () { /* the next tick tries again */ });
  }
  document.addEventListener('gs:runs-changed', refresh);
  setInterval(function () { if (!document.hidden) { refresh(); } }, 4000);
})();


// Placing a village: pick one that is not located (or only approximate), click its place on the map,
// save through the feature edit route with the datum of the tiles clicked on (Gaode: GCJ-02), undo.
(function () {
  'use strict';
  var box = document.getElementById('place');
  if (!box || !window.L) { return; }
  var $ = function (id) { return document.getElementById(id); };
  var data = JSON.parse($('place-data').textContent);
  var dataset = box.dataset.dataset, zh = box.dataset.lang !== 'en';
  var byId = {};
  data.villages.forEach(function (v) { byId[v.id] = v; });
  var TILES = {
    osm: {url: 'https://tile.openstreetmap.org/{z}/{x}/{y}.png', datum: 'wgs84', sub: 'abc',
          attr: '&copy; OpenStreetMap'},
    gaode: {url: 'https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}',
            datum: 'gcj02', sub: '1234', attr: '&copy; 高德地图'}
  };
  var map = L.map('place-map', {preferCanvas: true, maxZoom: 18});
  L.control.scale({imperial: false, metric: true}).addTo(map);
  var tiles = null, context = L.layerGroup().addTo(map), marker = null, current = null, click = null, undo = null;
  function datum() { return TILES[$('place-tiles').value].datum; }
  function status(text, ok) {
    var s = $('place-status'); s.textContent = text; s.className = 'small mt-1 ' + (ok ? 'text-success' : 'text-danger');
  }
  function ll(pair) { return pair ? [pair[1], pair[0]] : null; }
  function drawBase() {
    if (tiles) { map.removeLayer(tiles); }
    var t = TILES[$('place-tiles').value];
    tiles = L.tileLayer(t.url, {subdomains: t.sub, attribution: t.attr, maxZoom: 18}).addTo(map);
    context.clearLayers();
    (data.context[t.datum] || []).forEach(function (p) {
      L.circleMarker(ll(p), {radius: 3, color: '#666', weight: 1, fillColor: '#999', fillOpacity: 0.7,
                             interactive: false}).addTo(context);
    });
    select();
  }
  function select() {
    current = byId[$('place-village').value] || null;
    click = null;
    $('place-save').disabled = true;
    if (marker) { map.removeLayer(marker); marker = null; }
    var at = current ? ll(current[datum()]) : null;
    if (at) {
      marker = L.circleMarker(at, {radius: 9, color: '#555', weight: 3, fill: false}).addTo(map);
      map.setView(at, Math.max(map.getZoom() || 0, 12));
    } else {
      map.fitBounds(data.bounds[datum()]);
    }
    document.body.dataset.placeState = 'picking';
  }
  map.on('click', function (e) {
    if (!current) { return; }
    click = [e.latlng.lng, e.latlng.lat];
    if (marker) { map.removeLayer(marker); }
    marker = L.circleMarker(e.latlng, {radius: 7, color: '#fff', weight: 2, fillColor: '#c00000', fillOpacity: 1}).addTo(map);
    $('place-save').disabled = false;
    status((zh ? '已选位置：' : 'Picked: ') + click[0].toFixed(5) + ', ' + click[1].toFixed(5) +
           (datum() === 'gcj02' ? ' (GCJ-02)' : ' (WGS-84)'), true);
    document.body.dataset.placeState = 'clicked';
  });
  function send(id, body, inDatum) {
    var url = '/v1/datasets/' + encodeURIComponent(dataset) + '/villages/' + encodeURIComponent(id);
    return fetch(url, {headers: {'Accept': 'application/geo+json', 'Accept-Language': PAGE_LANG}, credentials: 'same-origin'})
      .then(function (r) {
        if (!r.ok) { throw new Error('HTTP ' + r.status); }
        var etag = r.headers.get('ETag');
        return r.json().then(function (f) {
          return fetch(url + '?datum=' + inDatum, {method: 'PATCH', credentials: 'same-origin',
            headers: {'Accept': 'application/geo+json', 'Content-Type': 'application/geo+json', 'If-Match': etag,
                      'Accept-Language': PAGE_LANG},
            body: JSON.stringify(body(f))}).then(function (r2) {
              return r2.text().then(function (t) {
                var b = null; try { b = JSON.parse(t); } catch (e) { b = {detail: t.slice(0, 200)}; }
                if (!r2.ok) { throw new Error((b.title || ('HTTP ' + r2.status)) + (b.detail ? (zh ? '：' : ': ') + b.detail : '')); }
                return {before: f, after: b};
              });
            });
        });
      });
  }
  function refreshCoverage() {  // the page's figures follow the new version
    return fetch('/v1/datasets/' + encodeURIComponent(dataset) + '/coverage?gap_limit=0',
                 {headers: {'Accept': 'application/json', 'Accept-Language': PAGE_LANG}, credentials: 'same-origin'})
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (b) {
        var line = b && (b.location_line || (b.summary && b.summary.location_line));
        if (line && $('location-line')) { $('location-line').textContent = line; }  // where the service says it
        var rows = b && b.summary && b.summary.total, tb = document.querySelector('#coverage-table tbody');
        if (!rows || !tb) { return; }
        var byV = !!document.getElementById('coverage-table').dataset.byVillages;
        tb.textContent = '';
        rows.forEach(function (r) {
          var tr = tb.insertRow();
          tr.insertCell().textContent = (r.threshold / 1000) + (zh ? ' 公里' : ' km');
          tr.insertCell().textContent = r.covered_villages + ' / ' + r.villages;
          if (!byV) { tr.insertCell().textContent = Math.round(r.covered_population).toLocaleString() + ' / ' + Math.round(r.population).toLocaleString(); }
          tr.insertCell().textContent = r.share === null || r.share === undefined ? '–' : (100 * r.share).toFixed(1) + '%';
        });
      });
  }
  function done(res, what) {
    var v = res.after && res.after.properties ? res.after.properties : {};
    status(what + (v.name ? '：' + v.name : ''), true);
    return refreshCoverage().then(function () { document.body.dataset.placeState = what === (zh ? '已撤销' : 'Undone') ? 'undone' : 'saved'; });
  }
  $('place-save').addEventListener('click', function () {
    if (!current || !click) { return; }
    var id = current.id, d = datum(), at = click;
    $('place-save').disabled = true;
    var was = (current.source === 'unknown' || !current.source) ? 'unknown' : current.source;
    send(id, function () {
      return {type: 'Feature', geometry: {type: 'Point', coordinates: at}, properties: {location_source: 'placed'}};
    }, d).then(function (res) {
      var before = res.before;
      // undo: the point as it was and where it came from (no point: unknown)
      undo = {id: id, body: {type: 'Feature', geometry: before.geometry, properties: {location_source: was}}};
      current.source = 'placed';
      $('place-undo').disabled = false;
      return done(res, zh ? '已保存' : 'Saved');
    }).catch(function (e) { status(String(e.message || e), false); $('place-save').disabled = false;
                            document.body.dataset.placeState = 'failed'; });
  });
  $('place-undo').addEventListener('click', function () {
    if (!undo) { return; }
    var u = undo;
    $('place-undo').disabled = true;
    send(u.id, function () { return u.body; }, 'wgs84').then(function (res) {  // the stored point, as it was
      undo = null;
      if (byId[u.id]) { byId[u.id].source = u.body.properties.location_source; }
      return done(res, zh ? '已撤销' : 'Undone');
    }).catch(function (e) { status(String(e.message || e), false); $('place-undo').disabled = false; });
  });
  $('place-village').addEventListener('change', select);
  $('place-tiles').addEventListener('change', drawBase);
  drawBase();
})();
