// The planners' page: start a re-run, poll its job, then show its map and responsibility table.
// Everything from the server is inserted with textContent (never as HTML).
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
    var h = {'Accept': 'application/json'};
    if (json) { h['Content-Type'] = 'application/json'; }
    return h;
  }
  function showError(text) {
    var e = $('error'); e.textContent = text; e.hidden = false;
    $('rerun-submit').disabled = false;
    document.body.dataset.runState = 'failed';
  }
  function problemText(body, status) {
    var text = 'HTTP ' + status;
    if (body && (body.detail || body.title)) { text = (body.title || '') + (body.detail ? ': ' + body.detail : ''); }
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
    setProgress(100, (job.status_text || STATUS.successful) + (job.message_text ? ' · ' + job.message_text : ''));
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
  var H = {'Accept': 'application/json'};
  function parse(r) {
    return r.text().then(function (t) {
      var b = null;
      try { b = JSON.parse(t); } catch (e) { b = {detail: t.slice(0, 200)}; }
      return {ok: r.ok, status: r.status, body: b};
    });
  }
  function fail(text) {
    var e = $('roster-error'); e.textContent = text; e.hidden = false;
    $('roster-submit').disabled = false;
    document.body.dataset.rosterState = 'failed';
  }
  function problem(res) {
    var b = res.body || {};
    return (b.title || ('HTTP ' + res.status)) + (b.detail ? ': ' + b.detail : '');
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
          {method: 'POST', headers: {'Accept': 'application/json', 'Content-Type': 'application/json'},
           body: JSON.stringify(body), credentials: 'same-origin'})
      .then(parse).then(function (res) {
        if (!res.ok) { fail(problem(res)); return; }
        poll('/v1/jobs/' + encodeURIComponent(res.body.id));
      }).catch(function (e) { fail(String(e)); });
  });
})();
