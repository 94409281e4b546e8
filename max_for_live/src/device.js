// The device: joins Live watching, requests, marks and UI text, and answers the entry's messages.
// Live forbids changing the set from inside an observer callback, so every change to a clip is
// deferred through a Task scheduled at 0 ms.

var Device = (function () {
    var OUT = {OSC: 0, CONNECTION: 1, RESULT: 2, REASONS: 3, STATUS: 4, MODELS: 5, SAVED_MODEL: 6, RECEIVE_PORT: 7};
    var PING_INTERVAL_MS = 3000;  // a ping unanswered by the next tick means the server is gone
    var AUTO_PORT_BASE = 9100;    // auto reply ports: 9100-9899, clear of LiveOSC's 9000/9001
    var AUTO_PORT_SPAN = 800;

    var track = null;          // LiveAPI of the track this device sits on
    var watch = null;          // LiveWatch of that track
    var ticker = null;         // ping Task
    var deferred = [];         // Tasks kept alive until they run
    var replyPort = null;      // our [udpreceive] port, named in every request so the server answers there
    var autoPort = false;      // the reply port box says 0: derive a port for this device instance
    var connected = null;      // null until the first ping is answered or missed
    var pingOutstanding = false;
    var models = [];
    var model = "";            // "" = the server's default model
    var sensitivityValue = null;
    var sensitivityPending = false; // restored from the Live Set before the server was reached
    var sensitivitySent = null; // the model whose new threshold the server is about to report
    var settings = {on: 1, markOk: 0, colour: 0, ascii: 0}; // marks; colour is a second set, a second undo step
    var originalColours = {};  // clip id -> colour before this device flagged it
    var sentRegions = {};      // "path|start|end" -> 1: a region already sent as a take
    var history = Takes.history();

    function now() {
        return new Date().getTime();
    }

    function show(outletIndex, text) {
        outlet(outletIndex, "set", text);
    }

    function send(command, args) {
        outlet(OUT.OSC, Protocol.request(command, args, replyPort)); // an array goes out as one message
    }

    var requests = Requests.create({
        now: now,
        send: send,
        model: function () {
            return model;
        },
        firstId: 1 + Math.floor(Math.random() * 1000000) * 1000
    });

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

    // ---- start-up ----

    // [live.thisdevice] bangs when the Live API is ready; the patcher turns that bang into `init`.
    function init() {
        track = LiveWatch.findTrack();
        if (autoPort) {
            deriveReplyPort();
        }
        if (!track) {
            show(OUT.STATUS, Ui.NO_TRACK);
        } else {
            watch = LiveWatch.create(track, {onTake: scoreTake, defer: defer, later: later});
            show(OUT.STATUS, watchingText());
        }
        if (!ticker) {
            ticker = new Task(tick, this);
            ticker.interval = PING_INTERVAL_MS;
            ticker.repeat(-1, PING_INTERVAL_MS); // forever; the first tick one interval after this ping
        }
        show(OUT.CONNECTION, "connecting\u2026");
        ping();
    }

    function watchingText() {
        return "watching " + Lom.get(track, "name");
    }

    function deriveReplyPort() {
        var id = Number(new LiveAPI("this_device").id);
        replyPort = AUTO_PORT_BASE + id % AUTO_PORT_SPAN;
        outlet(OUT.RECEIVE_PORT, "port", replyPort);
    }

    // ---- takes and Score track ----

    // One request per region: the same pass seen on the main lane and on a take lane, or by the Session
    // slot and the Arrangement at once, is sent once.
    function scoreTake(clipId) {
        var clip = Lom.byId(clipId);
        if (!Lom.exists(clip) || !Lom.number(clip, "is_audio_clip")) {
            return;
        }
        var path = Lom.text(clip, "file_path");
        if (!path) {
            show(OUT.STATUS, Marks.label(clip) + ": Live gave no file for this clip");
            return;
        }
        var region = Takes.region(clip);
        var key = path + "|" + (region ? region.start.toFixed(3) + "|" + region.end.toFixed(3) : "");
        if (sentRegions[key]) {
            return;
        }
        sentRegions[key] = 1;
        var length = region ? region.end - region.start : 0;
        var siblings = history.siblings(path, length);
        var name = Marks.label(clip);
        var take = history.add({path: path, length: length, name: name}, siblings);
        requests.take({clips: [clipId], name: name, path: path, words: Takes.words(region, siblings), take: take});
        show(OUT.STATUS, Ui.scoring(name, take.number, siblings.length));
    }

    // The "Score track" button: every audio clip of the track, Session and Arrangement, in batches.
    function scoretrack() {
        if (!track) {
            show(OUT.STATUS, Ui.NO_TRACK);
            return;
        }
        requests.cancelBatches();
        var byPath = {};
        var paths = [];
        var clipIds = watch.clipIds();
        for (var i = 0; i < clipIds.length; i++) {
            var clip = Lom.byId(clipIds[i]);
            var path = Lom.number(clip, "is_audio_clip") ? Lom.text(clip, "file_path") : "";
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
            show(OUT.STATUS, "no audio clips on this track");
            return;
        }
        show(OUT.STATUS, Ui.progress(requests.batch(paths, byPath)));
    }

    function ping() {
        pingOutstanding = true;
        send("ping", []);
    }

    // While the server is away takes wait (they are resent on reconnect); otherwise a take without
    // an answer in time is reported and forgotten.
    function tick() {
        if (pingOutstanding && connected !== false) {
            connected = false;
            show(OUT.CONNECTION, Ui.NOT_RUNNING);
            show(OUT.STATUS, Ui.PORT_HINT);
        }
        if (connected) {
            var dropped = requests.dropStale();
            for (var i = 0; i < dropped.length; i++) {
                show(OUT.STATUS, dropped[i] + ": no answer from the server");
            }
        }
        ping();
    }

    // ---- settings from the UI ----

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
            send("sensitivity", [name, sensitivityValue]);
        }
    }

    // The model menu: a choice by the user, stored with the Live Set.
    function setModel(name) {
        model = name;
        outlet(OUT.SAVED_MODEL, "set", "savedmodel", model);
        if (connected && sensitivityValue !== null) {
            sendSensitivity();
        }
    }

    // The stored choice coming back from the Live Set when it loads.
    function savedModel(name) {
        model = name;
        updateModelMenu();
    }

    function setting(name, on) {
        settings[name] = Number(on) ? 1 : 0;
    }

    // The reply port box: [udpreceive] listens there, and requests ask the server to answer there.
    // 0 means auto: each device instance gets its own port, derived from its Live object id, so two
    // devices never share a socket (and a LiveOSC listener on 9001 is left alone).
    function setReplyPort(port) {
        port = Math.round(Number(port));
        autoPort = port === 0;
        if (!autoPort) {
            replyPort = port;
        } else if (ticker) { // after init: the Live API is ready
            deriveReplyPort();
        }
    }

    function updateModelMenu() {
        outlet(OUT.MODELS, "clear");
        for (var i = 0; i < models.length; i++) {
            outlet(OUT.MODELS, "append", models[i]);
        }
        if (model) {
            outlet(OUT.MODELS, "setsymbol", model);
        }
    }

    // ---- replies from the server ----

    var HANDLERS = {};

    function reply(address, args) {
        var r = Protocol.decode(address, args);
        if (!r) {
            post("loopbridge: ignored " + address + "\n");
            return;
        }
        if (HANDLERS.hasOwnProperty(r.reply)) {
            HANDLERS[r.reply](r);
        }
    }

    HANDLERS.pong = function (r) {
        pingOutstanding = false;
        var wasConnected = connected;
        connected = true;
        show(OUT.CONNECTION, Ui.connected(r, autoPort ? replyPort : null));
        if (wasConnected !== true) {
            models = [];
            send("models", []);
            requests.resendTakes(); // sent while the server was away
        }
    };

    HANDLERS.model = function (r) {
        if (models.indexOf(r.name) < 0) {
            models.push(r.name);
            updateModelMenu();
        }
        if (sensitivityPending) {
            sendSensitivity();
        } else if (sensitivitySent === r.name && r.thresholds.length) {
            sensitivitySent = null;
            show(OUT.STATUS, Ui.threshold(r));
        }
    };

    HANDLERS.reason = function (r) {
        r.kind = r.kind.replace(/\u00B7/g, ""); // the clip-name separator never appears inside a marker
        requests.addReason(r.id, r);
    };

    HANDLERS.result = function (r) {
        var request = requests.get(r.id);
        r.reasons = requests.takeReasons(r.id);
        r.flag = r.flag === 1;
        if (!request || (request.kind === "take" && r.path !== request.path)) {
            return; // an answer to a request this device no longer waits for, or another device's
        }
        var clips;
        var latency = null;
        var standing = "";
        if (request.kind === "take") {
            requests.forget(r.id);
            clips = request.clips;
            latency = now() - request.sentAt;
            var of = history.partSize(request.take);
            standing = of > 1 ? "\n" + Ui.takeLine({number: request.take.number, of: of}, r, compares[r.id]) : "";
            show(OUT.STATUS, watchingText());
        } else {
            clips = request.clipsByPath[r.path] || [];
            requests.batchResult(r.id, r.flag);
        }
        var judged = contexts[r.id] ? "\n" + Ui.judged(contexts[r.id]) : "";
        delete compares[r.id];
        delete contexts[r.id];
        show(OUT.RESULT, Ui.result(clips.length ? Marks.label(Lom.byId(clips[0])) : r.path, r, latency) + standing +
            judged);
        show(OUT.REASONS, Ui.reasons(r));
        defer(function () {
            for (var i = 0; i < clips.length; i++) {
                Marks.mark(clips[i], r, settings, originalColours);
            }
        });
    };

    // The server's comparison of a take with its siblings, and the musical context it judged the take
    // against, both before its result (`compare` and `context` replies, bridge/server/replies.json).
    var compares = {};
    var contexts = {};

    HANDLERS.compare = function (r) {
        compares[r.id] = r;
    };

    HANDLERS.context = function (r) {
        contexts[r.id] = r;
    };

    HANDLERS.progress = function (r) {
        var run = requests.batchProgress(r.id, r.done, r.total);
        if (run) {
            show(OUT.STATUS, Ui.progress(run));
        }
    };

    HANDLERS.done = function (r) {
        var run = requests.batchEnd(r.id);
        if (run) {
            show(OUT.STATUS, run.finished ? Ui.trackDone(run) : Ui.progress(run));
        }
    };

    // A file of a batch that could not be scored; the batch goes on.
    HANDLERS.file_error = function (r) {
        var request = requests.get(r.id);
        var run = requests.batchFileError(r.id);
        if (!run) {
            return;
        }
        var clips = request.clipsByPath[r.path] || [];
        show(OUT.REASONS, Ui.fileError(clips.length ? Marks.label(Lom.byId(clips[0])) : r.path, r));
        show(OUT.STATUS, Ui.progress(run));
    };

    HANDLERS.error = function (r) {
        var request = requests.get(r.id);
        var what = "server";
        if (!request && r.id !== Protocol.NO_ID) {
            return; // another device's request, or one this device has given up on
        }
        if (request && request.kind === "take") {
            requests.forget(r.id);
            what = request.name;
        } else if (request && request.kind === "batch") {
            requests.batchEnd(r.id);
            what = "track";
        }
        show(OUT.STATUS, Ui.failed(what, r));
    };

    // For the stand-in harness: is anything still waiting (requests, deferred Tasks)?
    function busy() {
        return requests.count() + deferred.length;
    }

    function stop() {
        if (ticker) {
            ticker.cancel();
        }
    }

    return {init: init, scoretrack: scoretrack, sensitivity: sensitivity, setModel: setModel, savedModel: savedModel,
        setting: setting, setReplyPort: setReplyPort, reply: reply, busy: busy, stop: stop,
        deferredCount: function () {
            return deferred.length;
        }};
})();
