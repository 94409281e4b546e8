// loopbridge device script, for Max's classic `js` object (ES5: SpiderMonkey in Max 8 / Live 11).
//
// It watches the clip slots of the track the device sits on; when a clip stops recording it sends
// the take's file to `loopbridge serve` over OSC (through [udpsend]) and marks the clip with the
// answer that comes back (through [udpreceive]). Live forbids changing the set from inside an
// observer callback, so every change to a clip is deferred through a Task scheduled at 0 ms.

autowatch = 0;
inlets = 1;
outlets = 8;

setinletassist(0, "OSC replies from udpreceive; init, scoretrack, sensitivity, setmodel, savedmodel, markok, marks, markcolour, asciimarks, replyport");
setoutletassist(0, "OSC messages to udpsend");
setoutletassist(1, "connection text (set ...)");
setoutletassist(2, "last result text (set ...)");
setoutletassist(3, "reasons text (set ...)");
setoutletassist(4, "progress and errors text (set ...)");
setoutletassist(5, "model menu (clear / append / setsymbol)");
setoutletassist(6, "set savedmodel <name>: stored with the Live Set by [pattr], which sends it back on load");
setoutletassist(7, "port <n> to udpreceive: the reply port derived for this device when the box says 0 (auto)");

var OUT_OSC = 0;
var OUT_CONNECTION = 1;
var OUT_RESULT = 2;
var OUT_REASONS = 3;
var OUT_STATUS = 4;
var OUT_MODELS = 5;
var OUT_SAVED_MODEL = 6;
var OUT_RECEIVE_PORT = 7;
var AUTO_PORT_BASE = 9100;        // auto reply ports: 9100-9899, clear of LiveOSC's 9000/9001
var AUTO_PORT_SPAN = 800;

var ADDRESS = "/loopbridge/";
var PING_INTERVAL_MS = 3000;     // a ping unanswered by the next tick means the server is gone
var TAKE_TIMEOUT_MS = 30000;     // a take with no terminal reply this long after sending is dropped
var MAX_BATCH_BYTES = 6000;      // keep each batch datagram well under the 8 KB the server accepts
var ARRANGEMENT_SETTLE_MS = 500; // Live adds the recorded arrangement clips just after recording stops
var MARKS = {
    unicode: {flag: "\u26A0", ok: "\u2713", sep: " \u00B7 "}, // "⚠ 2.1× clipping · name"
    ascii: {flag: "!", ok: "ok", sep: " | "}                     // "! 2.1x clipping | name", for fonts without them
};
// Either style's marker, so switching styles replaces an old marker instead of stacking a new one.
var MARKER_PATTERN = /^(?:\u26A0[^\u00B7]* \u00B7 |\u2713[^\u00B7]* \u00B7 |! [^|]* \| |! \| |ok [^|]* \| )/;
var MAX_SIBLINGS = 8;             // earlier takes of the same part sent with a take (datagram size)
var SAME_PART_TOLERANCE = 0.05;   // takes whose regions differ in length by less than this are one part
var WARNING_COLOUR = 0xFF3636;   // Live snaps it to the nearest palette colour (red)
var NOT_RUNNING = "server not running \u2014 start `loopbridge serve`";
var PORT_HINT = "no answer on the server port: if another program holds it (LiveOSC uses 9000), " +
    "run `loopbridge serve --port N` and set the server port box to N";

// ---- state -------------------------------------------------------------------------------------

var track = null;          // LiveAPI of the track this device sits on
var trackWatch = null;     // observes the track's clip_slots (scenes added or removed)
var slotWatches = [];      // one per clip slot: {api, clip}
var song = null;           // observes Song.record_mode for Arrangement recording
var ticker = null;         // ping Task
// Devices on several tracks may share one reply port, so each numbers its requests from its own
// random start (ids are int32 on the wire) and ignores answers to ids it did not send.
var nextId = 1 + Math.floor(Math.random() * 1000000) * 1000;
var replyPort = null;      // our [udpreceive] port, named in every request so the server answers there
var autoPort = false;      // the reply port box says 0: derive a port for this device instance
var pending = {};          // request id -> {kind: "take"|"batch", clips, sentAt, name, run}
var reasonsById = {};      // request id -> reasons received before its result
var runs = {};             // "Score track" run id -> {ids, done, total, scored, flagged, failed}
var originalColours = {};  // clip id -> colour before this device flagged it
var connected = null;      // null until the first ping is answered or missed
var pingOutstanding = false;
var models = [];
var model = "";            // "" = the server's default model
var sensitivityValue = null;
var sensitivityPending = false; // restored from the Live Set before the server was reached
var sensitivitySent = null; // the model whose new threshold the server is about to report
var markOk = 0;
var marksOn = 1;            // 0: never rename or colour a clip (results only in the device)
var markColour = 0;         // 1: also colour flagged clips (a second set, so a second undo step)
var markStyle = "unicode";  // or "ascii"
var watchedLanes = [];      // LiveAPIs observing each take lane's arrangement_clips (Live 12)
var lanesWatch = null;      // observes Track.take_lanes (loop recording adds lanes)
var recordStartFiles = null; // file path -> 1 for every clip of the track when Arrangement recording started
var seenArrangement = {};   // arrangement clip id -> 1, looked at since recording started
var recordingWatches = {}; // arrangement clip id -> is_recording watch, while it records
var sentRegions = {};       // "path|start|end" -> 1: a region already sent as a take
var takes = [];             // this track's takes sent so far: {path, length}
var deferred = [];         // Tasks kept alive until they run

// ---- helpers -----------------------------------------------------------------------------------

function now() {
    return new Date().getTime();
}

function show(outletIndex, text) {
    outlet(outletIndex, "set", text);
}

// The server takes a trailing number after a request's arguments as the port to answer on.
function send() {
    var args = Array.prototype.slice.call(arguments);
    args[0] = ADDRESS + args[0];
    if (replyPort !== null) {
        args.push(replyPort);
    }
    outlet(OUT_OSC, args); // Max sends an array as one message: its first word is the address
}

// Run fn after ms on Max's low-priority queue; the Task is kept alive until it has run.
function later(fn, ms) {
    var task = new Task(function () {
        deferred.splice(deferred.indexOf(task), 1);
        fn();
    }, this);
    deferred.push(task);
    task.schedule(ms);
}

// Run fn outside the current notification, as Live requires for any change to the set.
function defer(fn) {
    later(fn, 0);
}

// LiveAPI.get returns a list of atoms; a name or path with spaces may come back split.
function getValue(api, prop) {
    var v = api.get(prop);
    if (v === undefined || v === null) {
        return v;
    }
    if (typeof v === "object" && v.length !== undefined) {
        return v.length === 1 ? v[0] : Array.prototype.join.call(v, " ");
    }
    return v;
}

function idsOf(list) {
    var ids = [];
    if (!list) {
        return ids;
    }
    for (var i = 0; i + 1 < list.length; i += 2) {
        if (list[i] === "id" && Number(list[i + 1]) !== 0) {
            ids.push(Number(list[i + 1]));
        }
    }
    return ids;
}

function apiFor(id) {
    return new LiveAPI("id " + id);
}

function exists(api) {
    return api && Number(api.id) !== 0;
}

function formatNumber(x) {
    x = Number(x);
    if (!isFinite(x)) {
        return String(x);
    }
    if (Math.abs(x) >= 100) {
        return x.toFixed(0);
    }
    return String(Number(x.toPrecision(2)));
}

function ratioText(result) {
    var times = markStyle === "ascii" ? "x" : "\u00D7";
    return result.threshold > 0 ? formatNumber(result.score / result.threshold) + times : formatNumber(result.score);
}

function stripMarker(name) {
    var m = MARKER_PATTERN.exec(name);
    return m ? name.substring(m[0].length) : name;
}

function clipLabel(clip) {
    return stripMarker(String(getValue(clip, "name") || "")) || "untitled clip";
}

// ---- start-up: find the track, watch its clip slots -----------------------------------------

// [live.thisdevice] bangs when the Live API is ready; the patcher turns that bang into `init`.
function init() {
    track = findTrack();
    if (autoPort) {
        deriveReplyPort();
    }
    if (!track) {
        show(OUT_STATUS, "put loopbridge on an audio track");
    } else {
        trackWatch = new LiveAPI(function (args) {
            if (args[0] === "clip_slots") {
                watchSlots();
            }
        }, "id " + track.id);
        trackWatch.property = "clip_slots";
        watchSlots();
        watchArrangement();
        show(OUT_STATUS, watchingText());
    }
    if (!ticker) {
        ticker = new Task(tick, this);
        ticker.interval = PING_INTERVAL_MS;
        ticker.repeat(-1, PING_INTERVAL_MS); // forever; the first tick one interval after this ping
    }
    show(OUT_CONNECTION, "connecting\u2026");
    ping();
}

function watchingText() {
    return "watching " + getValue(track, "name");
}

function findTrack() {
    var api = new LiveAPI("this_device");
    for (var depth = 0; depth < 8 && exists(api); depth++) {
        var parent = idsOf(api.get("canonical_parent"));
        if (parent.length === 0) {
            return null;
        }
        api = apiFor(parent[0]);
        if (api.type === "Track") {
            return api;
        }
    }
    return null;
}

function watchSlots() {
    var ids = idsOf(track.get("clip_slots"));
    var kept = [];
    for (var i = 0; i < slotWatches.length; i++) {
        if (ids.indexOf(Number(slotWatches[i].api.id)) >= 0) {
            kept.push(slotWatches[i]);
        } else {
            stopWatch(slotWatches[i]);
        }
    }
    slotWatches = kept;
    for (var j = 0; j < ids.length; j++) {
        if (!watchFor(ids[j])) {
            slotWatches.push(watchSlot(ids[j]));
        }
    }
}

function watchFor(slotId) {
    for (var i = 0; i < slotWatches.length; i++) {
        if (Number(slotWatches[i].api.id) === slotId) {
            return slotWatches[i];
        }
    }
    return null;
}

function stopWatch(watch) {
    watch.api.property = "";
    if (watch.clip) {
        watch.clip.api.property = "";
    }
}

function watchSlot(slotId) {
    var watch = {api: null, clip: null};
    watch.api = new LiveAPI(function (args) {
        if (args[0] === "has_clip") {
            onHasClip(watch, Number(args[1]));
        }
    }, "id " + slotId);
    watch.api.property = "has_clip";
    onHasClip(watch, Number(getValue(watch.api, "has_clip")));
    return watch;
}

function onHasClip(watch, hasClip) {
    if (!hasClip) {
        if (watch.clip) {
            watch.clip.api.property = "";
            watch.clip = null;
        }
        return;
    }
    var clipIds = idsOf(watch.api.get("clip"));
    if (clipIds.length === 0 || (watch.clip && Number(watch.clip.api.id) === clipIds[0])) {
        return;
    }
    watch.clip = watchClip(clipIds[0]);
}

// An empty slot cannot be observed for its clip, so each new clip gets its own is_recording watch.
function watchClip(clipId) {
    var clipWatch = {api: null, recording: 0};
    clipWatch.api = new LiveAPI(function (args) {
        if (args[0] !== "is_recording") {
            return;
        }
        var recording = Number(args[1]);
        if (clipWatch.recording === 1 && recording === 0) {
            defer(function () {
                scoreTake(clipId);
            });
        }
        clipWatch.recording = recording;
    }, "id " + clipId);
    clipWatch.api.property = "is_recording";
    clipWatch.recording = Number(getValue(clipWatch.api, "is_recording"));
    return clipWatch;
}

// Arrangement recording. Song.record_mode is the Arrangement Record button, not "recording is
// happening" (punch-in, loop recording), so the device watches the track's arrangement clips and,
// in Live 12, every take lane's, from the moment the button goes on until a settle time after it
// goes off. A clip is a new take when its audio file was on none of the track's clips when the
// button went on: a clip moved, pasted, split off by recording over it, or a Session clip launched
// into the Arrangement plays a file the track already had.
function watchArrangement() {
    if (!hasProperty(track, "arrangement_clips")) {
        return;
    }
    var clipsWatch = new LiveAPI(onArrangementChange, "id " + track.id);
    clipsWatch.property = "arrangement_clips";
    if (hasProperty(track, "take_lanes")) {
        lanesWatch = new LiveAPI(function (args) {
            if (args[0] === "take_lanes") {
                watchLanes();
                onArrangementChange(["arrangement_clips"]);
            }
        }, "id " + track.id);
        lanesWatch.property = "take_lanes";
        watchLanes();
    }
    song = new LiveAPI(function (args) {
        if (args[0] !== "record_mode") {
            return;
        }
        var on = Number(args[1]);
        if (on && recordStartFiles === null) {
            startArrangementRecording();
        } else if (!on && recordStartFiles !== null) {
            later(stopArrangementRecording, ARRANGEMENT_SETTLE_MS);
        }
    }, "live_set");
    song.property = "record_mode";
    if (Number(getValue(song, "record_mode"))) {
        startArrangementRecording();
    }
}

function stopArrangementRecording() {
    scanArrangement();
    recordStartFiles = null;
    for (var id in recordingWatches) {
        recordingWatches[id].api.property = "";
    }
    recordingWatches = {};
}

function watchLanes() {
    for (var i = 0; i < watchedLanes.length; i++) {
        watchedLanes[i].property = "";
    }
    watchedLanes = [];
    var lanes = idsOf(track.get("take_lanes"));
    for (var j = 0; j < lanes.length; j++) {
        var lane = new LiveAPI(onArrangementChange, "id " + lanes[j]);
        lane.property = "arrangement_clips";
        watchedLanes.push(lane);
    }
}

function onArrangementChange(args) {
    if (args[0] === "arrangement_clips" && recordStartFiles !== null) {
        defer(scanArrangement);
    }
}

function startArrangementRecording() {
    recordStartFiles = {};
    seenArrangement = {};
    var ids = trackClipIds();
    for (var i = 0; i < ids.length; i++) {
        recordStartFiles[String(getValue(apiFor(ids[i]), "file_path") || "")] = 1;
        seenArrangement[ids[i]] = 1;
    }
}

// The clips on the track's take lanes (Live 12), lane by lane, so loop passes go in the order they
// were played, then the track's own arrangement clips.
function arrangementClipIds() {
    if (!hasProperty(track, "arrangement_clips")) {
        return [];
    }
    var ids = [];
    if (hasProperty(track, "take_lanes")) {
        var lanes = idsOf(track.get("take_lanes"));
        for (var i = 0; i < lanes.length; i++) {
            ids = ids.concat(idsOf(apiFor(lanes[i]).get("arrangement_clips")));
        }
    }
    return ids.concat(idsOf(track.get("arrangement_clips")));
}

function scanArrangement() {
    if (recordStartFiles === null) {
        return;
    }
    var ids = arrangementClipIds();
    for (var i = 0; i < ids.length; i++) {
        if (seenArrangement[ids[i]]) {
            continue;
        }
        var clip = apiFor(ids[i]);
        if (Number(getValue(clip, "is_recording"))) {
            if (!recordingWatches[ids[i]]) {
                recordingWatches[ids[i]] = watchClip(ids[i]); // punch-out may come with the button still on
            }
            continue;
        }
        seenArrangement[ids[i]] = 1;
        if (!recordStartFiles[String(getValue(clip, "file_path") || "")]) {
            scoreTake(ids[i]);
        }
    }
}

// LiveAPI.info lists an object's properties and children; older Lives lack some.
function hasProperty(api, name) {
    return new RegExp("^(?:property|children|child) " + name + "(?:\\s|$)", "m").test(String(api.info));
}

// ---- regions and context -----------------------------------------------------------------------

// The part of its file a clip plays, in seconds of the file: the loop brace when looping, else the
// start and end markers. Warped clips keep markers in beats: they are mapped through the clip's warp
// markers (piecewise linear, extended past the ends by the nearest segment) or, without them, at the
// song's tempo (right for a take recorded at that tempo and never re-warped). Unwarped clips keep
// their markers in seconds of the file.
function clipRegion(clip) {
    var looping = Number(getValue(clip, "looping"));
    var start = Number(getValue(clip, looping ? "loop_start" : "start_marker"));
    var end = Number(getValue(clip, looping ? "loop_end" : "end_marker"));
    if (!isFinite(start) || !isFinite(end)) {
        return null;
    }
    if (Number(getValue(clip, "warping"))) {
        var markers = warpMarkers(clip);
        start = beatsToSeconds(start, markers);
        end = beatsToSeconds(end, markers);
    }
    if (!(end > start)) {
        return null;
    }
    return {start: Math.max(0, start), end: end};
}

function warpMarkers(clip) {
    if (!hasProperty(clip, "warp_markers")) {
        return [];
    }
    try {
        var parsed = JSON.parse(String(getValue(clip, "warp_markers")));
        var list = parsed.warp_markers || parsed;
        var markers = [];
        for (var i = 0; i < list.length; i++) {
            markers.push({beat: Number(list[i].beat_time), second: Number(list[i].sample_time)});
        }
        markers.sort(function (x, y) {
            return x.beat - y.beat;
        });
        return markers;
    } catch (e) {
        return [];
    }
}

function beatsToSeconds(beat, markers) {
    if (markers.length < 2) {
        var offset = markers.length ? markers[0].second - markers[0].beat * 60 / songTempo() : 0;
        return offset + beat * 60 / songTempo();
    }
    var i = 0;
    while (i < markers.length - 2 && beat > markers[i + 1].beat) {
        i++;
    }
    var a = markers[i];
    var b = markers[i + 1];
    return a.second + (beat - a.beat) * (b.second - a.second) / (b.beat - a.beat);
}

function songTempo() {
    var bpm = Number(getValue(new LiveAPI("live_set"), "tempo"));
    return bpm > 0 ? bpm : 120;
}

var NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

// Named arguments for the musical checks: tempo, meter and (Live 12) key, read when the take is sent.
function songContext() {
    var s = new LiveAPI("live_set");
    var words = ["bpm", songTempo()];
    var num = Number(getValue(s, "signature_numerator"));
    var den = Number(getValue(s, "signature_denominator"));
    if (num > 0 && den > 0) {
        words.push("meter", num + "/" + den);
    }
    if (hasProperty(s, "root_note") && hasProperty(s, "scale_name")) {
        var root = NOTE_NAMES[Number(getValue(s, "root_note")) % 12];
        var scale = String(getValue(s, "scale_name") || "");
        if (root && scale) {
            words.push("key", root + " " + scale);
        }
    }
    return words;
}

// The track's earlier takes of the same part: other files whose regions are about as long.
function siblingsFor(path, length) {
    var paths = [];
    for (var i = takes.length - 1; i >= 0 && paths.length < MAX_SIBLINGS; i--) {
        var t = takes[i];
        if (t.path !== path && paths.indexOf(t.path) < 0 &&
                Math.abs(t.length - length) <= SAME_PART_TOLERANCE * Math.max(t.length, length)) {
            paths.push(t.path);
        }
    }
    return paths;
}

// ---- requests ----------------------------------------------------------------------------------

// One request per region: the same pass seen on the main lane and on a take lane, or by the Session
// slot and the Arrangement at once, is sent once.
function scoreTake(clipId) {
    var clip = apiFor(clipId);
    if (!exists(clip) || !Number(getValue(clip, "is_audio_clip"))) {
        return;
    }
    var path = String(getValue(clip, "file_path") || "");
    if (!path) {
        show(OUT_STATUS, clipLabel(clip) + ": Live gave no file for this clip");
        return;
    }
    var region = clipRegion(clip);
    var key = path + "|" + (region ? region.start.toFixed(3) + "|" + region.end.toFixed(3) : "");
    if (sentRegions[key]) {
        return;
    }
    sentRegions[key] = 1;
    var words = [];
    if (region) {
        words.push("start_s", region.start, "end_s", region.end);
    }
    words = words.concat(songContext());
    var length = region ? region.end - region.start : 0;
    var siblings = siblingsFor(path, length);
    for (var i = 0; i < siblings.length; i++) {
        words.push("sibling", siblings[i]);
    }
    takes.push({path: path, length: length});
    var id = nextId++;
    pending[id] = {kind: "take", clips: [clipId], name: clipLabel(clip), path: path, words: words, sentAt: now()};
    sendScore(id);
    show(OUT_STATUS, "scoring " + pending[id].name + (siblings.length ? " (take " + takes.length + ")" : "") + "\u2026");
}

function sendScore(id) {
    var request = pending[id];
    request.sentAt = now();
    var args = ["score", id, request.path];
    if (model) {
        args.push(model);
    }
    send.apply(this, args.concat(request.words));
}

// The "Score track" button: every audio clip of the track, Session and Arrangement, in batches.
// Pressing it again starts over: batches still running are cancelled and their answers ignored.
function scoretrack() {
    if (!track) {
        show(OUT_STATUS, "put loopbridge on an audio track");
        return;
    }
    cancelBatches();
    var byPath = {};
    var paths = [];
    var clipIds = trackClipIds();
    for (var i = 0; i < clipIds.length; i++) {
        var clip = apiFor(clipIds[i]);
        if (!Number(getValue(clip, "is_audio_clip"))) {
            continue;
        }
        var path = String(getValue(clip, "file_path") || "");
        if (!path) {
            continue;
        }
        if (!byPath[path]) {
            byPath[path] = [];
            paths.push(path);
        }
        byPath[path].push(clipIds[i]);
    }
    if (paths.length === 0) {
        show(OUT_STATUS, "no audio clips on this track");
        return;
    }
    var run = {ids: [], done: {}, total: {}, scored: 0, flagged: 0, failed: 0};
    var runId = nextId;
    var groups = splitPaths(paths);
    for (var g = 0; g < groups.length; g++) {
        var id = nextId++;
        var clips = {};
        for (var p = 0; p < groups[g].length; p++) {
            clips[groups[g][p]] = byPath[groups[g][p]];
        }
        pending[id] = {kind: "batch", clipsByPath: clips, sentAt: now(), run: runId};
        run.ids.push(id);
        run.done[id] = 0;
        run.total[id] = groups[g].length;
        send.apply(this, ["batch", id].concat(groups[g]));
    }
    runs[runId] = run;
    showProgress(run);
}

function cancelBatches() {
    for (var id in pending) {
        if (pending[id].kind === "batch") {
            send("cancel", Number(id));
            delete pending[id];
        }
    }
    runs = {};
}

function trackClipIds() {
    var ids = [];
    for (var i = 0; i < slotWatches.length; i++) {
        if (Number(getValue(slotWatches[i].api, "has_clip"))) {
            ids = ids.concat(idsOf(slotWatches[i].api.get("clip")));
        }
    }
    return ids.concat(arrangementClipIds());
}

function splitPaths(paths) {
    var groups = [[]];
    var size = 0;
    for (var i = 0; i < paths.length; i++) {
        var cost = utf8Length(paths[i]) + 4; // OSC pads each string with 1-4 NULs
        if (size + cost > MAX_BATCH_BYTES && groups[groups.length - 1].length > 0) {
            groups.push([]);
            size = 0;
        }
        groups[groups.length - 1].push(paths[i]);
        size += cost;
    }
    return groups;
}

function utf8Length(text) {
    return unescape(encodeURIComponent(text)).length;
}

function showProgress(run) {
    var done = 0;
    var total = 0;
    for (var i = 0; i < run.ids.length; i++) {
        done += run.done[run.ids[i]];
        total += run.total[run.ids[i]];
    }
    var text = "track: " + done + " / " + total + " scored";
    if (run.flagged) {
        text += ", " + run.flagged + " flagged";
    }
    if (run.failed) {
        text += ", " + run.failed + " failed";
    }
    show(OUT_STATUS, text);
}

function ping() {
    pingOutstanding = true;
    send("ping");
}

function tick() {
    if (pingOutstanding && connected !== false) {
        connected = false;
        show(OUT_CONNECTION, NOT_RUNNING);
        show(OUT_STATUS, PORT_HINT);
    }
    dropStaleTakes();
    ping();
}

// While the server is away takes wait (they are resent on reconnect); otherwise a take without
// an answer in TAKE_TIMEOUT_MS is reported and forgotten.
function dropStaleTakes() {
    if (!connected) {
        return;
    }
    var t = now();
    for (var id in pending) {
        if (pending[id].kind === "take" && t - pending[id].sentAt > TAKE_TIMEOUT_MS) {
            show(OUT_STATUS, pending[id].name + ": no answer from the server");
            delete pending[id];
            delete reasonsById[id];
        }
    }
}

// ---- UI messages -------------------------------------------------------------------------------

function sensitivity(q) {
    sensitivityValue = Number(q);
    if (connected) {
        sendSensitivity();
    } else {
        sensitivityPending = true;
    }
}

function sendSensitivity() {
    var name = model || models[0];
    sensitivityPending = !name;
    if (name && sensitivityValue !== null) {
        sensitivitySent = name;
        send("sensitivity", name, sensitivityValue);
    }
}

// The model menu: a choice by the user, stored with the Live Set.
function setmodel() {
    model = arrayfromargs(arguments).join(" ");
    outlet(OUT_SAVED_MODEL, "set", "savedmodel", model);
    if (connected && sensitivityValue !== null) {
        sendSensitivity();
    }
}

// The stored choice coming back from the Live Set when it loads.
function savedmodel() {
    model = arrayfromargs(arguments).join(" ");
    updateModelMenu();
}

function markok(on) {
    markOk = Number(on) ? 1 : 0;
}

function marks(on) {
    marksOn = Number(on) ? 1 : 0;
}

function markcolour(on) {
    markColour = Number(on) ? 1 : 0;
}

function asciimarks(on) {
    markStyle = Number(on) ? "ascii" : "unicode";
}

// The reply port box: [udpreceive] listens there, and requests ask the server to answer there.
// 0 means auto: each device instance gets its own port, derived from its Live object id, so two
// devices never share a socket (and a LiveOSC listener on 9001 is left alone).
function replyport(port) {
    port = Math.round(Number(port));
    autoPort = port === 0;
    if (!autoPort) {
        replyPort = port;
    } else if (ticker) { // after init: the Live API is ready
        deriveReplyPort();
    }
}

function deriveReplyPort() {
    var id = Number(new LiveAPI("this_device").id);
    replyPort = AUTO_PORT_BASE + id % AUTO_PORT_SPAN;
    outlet(OUT_RECEIVE_PORT, "port", replyPort);
}

function updateModelMenu() {
    outlet(OUT_MODELS, "clear");
    for (var i = 0; i < models.length; i++) {
        outlet(OUT_MODELS, "append", models[i]);
    }
    if (model) {
        outlet(OUT_MODELS, "setsymbol", model);
    }
}

// ---- replies from the server -------------------------------------------------------------------

function anything() {
    var args = arrayfromargs(arguments);
    if (messagename.indexOf(ADDRESS) !== 0) {
        post("loopbridge: ignored " + messagename + "\n");
        return;
    }
    var kind = messagename.substring(ADDRESS.length);
    if (kind === "pong") {
        onPong(args);
    } else if (kind === "model") {
        onModel(args);
    } else if (kind === "reason") {
        onReason(args);
    } else if (kind === "result") {
        onResult(args);
    } else if (kind === "progress") {
        onProgress(args);
    } else if (kind === "done") {
        onDone(args);
    } else if (kind === "file_error") {
        onFileError(args);
    } else if (kind === "error") {
        onError(args);
    }
}

function onPong(args) {
    pingOutstanding = false;
    var wasConnected = connected;
    connected = true;
    show(OUT_CONNECTION, "connected \u00B7 loopbridge " + args[1] + " \u00B7 " + args[2] +
        (autoPort ? " \u00B7 replies on " + replyPort : ""));
    if (wasConnected !== true) {
        models = [];
        send("models");
        for (var id in pending) {
            if (pending[id].kind === "take") {
                sendScore(Number(id)); // sent while the server was away
            }
        }
    }
}

// model <name> <encoder> <primary head> <quantile> <head> <threshold> ...
function onModel(args) {
    var name = String(args[0]);
    if (models.indexOf(name) < 0) {
        models.push(name);
        updateModelMenu();
    }
    if (sensitivityPending) {
        sendSensitivity();
    } else if (sensitivitySent === name && args.length >= 6) {
        sensitivitySent = null;
        show(OUT_STATUS, name + ": threshold " + formatNumber(args[5]) + " at sensitivity " +
            Math.round(Number(args[3]) * 1000) / 1000);
    }
}

function onReason(args) {
    var id = Number(args[0]);
    if (!reasonsById[id]) {
        reasonsById[id] = [];
    }
    reasonsById[id].push({
        kind: String(args[1]).replace(/\u00B7/g, ""),
        severity: Number(args[2]),
        start: Number(args[3]),
        duration: Number(args[4]),
        message: args.slice(5).join(" ")
    });
}

function onResult(args) {
    var id = Number(args[0]);
    var request = pending[id];
    var reasons = (reasonsById[id] || []).slice();
    delete reasonsById[id];
    reasons.sort(function (a, b) {
        return b.severity - a.severity;
    });
    if (request && request.kind === "take" && String(args[1]) !== request.path) {
        return; // another device's request that happens to share this id
    }
    var result = {
        path: String(args[1]),
        model: String(args[2]),
        score: Number(args[3]),
        threshold: Number(args[4]),
        flag: Number(args[5]) === 1,
        serverMs: Number(args[6]),
        reasons: reasons
    };
    if (!request) {
        return; // an answer to a request this device no longer waits for
    }
    var clips;
    var latency = "";
    if (request.kind === "take") {
        delete pending[id];
        clips = request.clips;
        latency = (now() - request.sentAt) + " ms";
        show(OUT_STATUS, watchingText());
    } else {
        clips = request.clipsByPath[result.path] || [];
        var run = runs[request.run];
        if (run) {
            run.scored += 1;
            run.flagged += result.flag ? 1 : 0;
        }
    }
    var name = clips.length ? clipLabel(apiFor(clips[0])) : result.path;
    showResult(name, result, latency);
    defer(function () {
        for (var i = 0; i < clips.length; i++) {
            markClip(clips[i], result);
        }
    });
}

function showResult(name, result, latency) {
    var text = name + ": score " + formatNumber(result.score) + " / threshold " + formatNumber(result.threshold) +
        (result.flag ? " \u2014 FLAGGED" : " \u2014 ok") + " \u00B7 " + result.model;
    if (latency) {
        text += " \u00B7 " + latency + " (server " + formatNumber(result.serverMs) + " ms)";
    }
    show(OUT_RESULT, text);
    var lines = [];
    for (var i = 0; i < result.reasons.length; i++) {
        var r = result.reasons[i];
        lines.push(r.kind + " at " + r.start.toFixed(2) + " s (" + Math.round(r.severity * 100) + "%): " + r.message);
    }
    if (lines.length === 0) {
        lines.push(result.flag ? "no technical fault found: the take sounds unlike your library" : "no problems found");
    }
    show(OUT_REASONS, lines.join("\n"));
}

// Flagged: "⚠ 2.1× clipping · <name>", the number being score ÷ threshold (shown when the learned
// model flagged it) and the word the most severe reason; the warning colour too with Colour on.
// Normal: the clip as it was (or "✓ 0.4× · <name>" with Mark OK on). Any earlier marker is replaced,
// never stacked. Each LOM set is one undo step in Live, so a take costs one (the name) by default,
// and none when its name is already right or marks are off.
function markClip(clipId, result) {
    var clip = apiFor(clipId);
    if (!marksOn || !exists(clip)) {
        return;
    }
    var marks = MARKS[markStyle];
    var current = String(getValue(clip, "name") || "");
    var name = stripMarker(current);
    var wanted = name;
    if (result.flag) {
        var words = [marks.flag];
        if (result.score >= result.threshold) {
            words.push(ratioText(result));
        }
        if (result.reasons.length) {
            words.push(result.reasons[0].kind);
        }
        wanted = words.join(" ") + marks.sep + name;
        if (markColour && originalColours[clipId] === undefined) {
            originalColours[clipId] = Number(getValue(clip, "color"));
            clip.set("color", WARNING_COLOUR);
        }
    } else {
        if (originalColours[clipId] !== undefined) {
            clip.set("color", originalColours[clipId]);
            delete originalColours[clipId];
        }
        if (markOk) {
            wanted = marks.ok + " " + ratioText(result) + marks.sep + name;
        }
    }
    if (wanted !== current) {
        clip.set("name", wanted);
    }
}

function onProgress(args) {
    var request = pending[Number(args[0])];
    var run = request && runs[request.run];
    if (!run) {
        return;
    }
    run.done[Number(args[0])] = Number(args[1]);
    run.total[Number(args[0])] = Number(args[2]);
    showProgress(run);
}

function onDone(args) {
    var id = Number(args[0]);
    var request = pending[id];
    if (!request || request.kind !== "batch") {
        return;
    }
    delete pending[id];
    var run = runs[request.run];
    run.done[id] = run.total[id];
    run.ids.splice(run.ids.indexOf(id), 1);
    if (run.ids.length > 0) {
        showProgress(run);
        return;
    }
    delete runs[request.run];
    show(OUT_STATUS, "track done: " + run.scored + " scored, " + run.flagged + " flagged" +
        (run.failed ? ", " + run.failed + " failed" : ""));
}

// A file of a batch that could not be scored; the batch goes on.
function onFileError(args) {
    var request = pending[Number(args[0])];
    var run = request && runs[request.run];
    if (!run) {
        return;
    }
    run.failed += 1;
    var clips = request.clipsByPath[String(args[1])] || [];
    var name = clips.length ? clipLabel(apiFor(clips[0])) : String(args[1]);
    show(OUT_REASONS, name + ": " + args.slice(3).join(" ") + " (" + args[2] + ")");
    showProgress(run);
}

var NO_ID = -1; // the id of an error answering a request without one (ping, models, sensitivity)

function onError(args) {
    var id = Number(args[0]);
    var code = String(args[1]);
    var message = args.slice(2).join(" ");
    var request = pending[id];
    var what = "server";
    if (!request && id !== NO_ID) {
        return; // another device's request, or one this device has given up on
    }
    if (request && request.kind === "take") {
        delete pending[id];
        delete reasonsById[id];
        what = request.name;
    } else if (request && request.kind === "batch") {
        delete pending[id];
        var run = runs[request.run];
        if (run) {
            run.ids.splice(run.ids.indexOf(id), 1);
            if (run.ids.length === 0) {
                delete runs[request.run];
            }
        }
        what = "track";
    }
    show(OUT_STATUS, what + ": " + (message || "failed") + " (" + code + ")");
}

// Max lets any global function answer a message of its name; `local` keeps these helpers private,
// leaving init, scoretrack, sensitivity, setmodel, savedmodel, markok, marks, markcolour, asciimarks,
// replyport and anything (OSC replies).
var HELPERS = [now, show, send, later, defer, utf8Length, getValue, idsOf, apiFor, exists, formatNumber, ratioText, stripMarker,
    clipLabel, watchingText, findTrack, watchSlots, watchFor, stopWatch, watchSlot, onHasClip, watchClip, watchArrangement,
    watchLanes, onArrangementChange, startArrangementRecording, stopArrangementRecording, arrangementClipIds, scanArrangement, hasProperty, clipRegion, deriveReplyPort,
    warpMarkers, beatsToSeconds, songTempo, songContext, siblingsFor, scoreTake, sendScore, cancelBatches, trackClipIds, splitPaths, showProgress,
    ping, tick, dropStaleTakes, sendSensitivity, updateModelMenu, onPong, onModel, onReason, onResult, showResult,
    markClip, onProgress, onDone, onFileError, onError];
for (var h = 0; h < HELPERS.length; h++) {
    HELPERS[h].local = 1;
}
