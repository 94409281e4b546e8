// Requests waiting for the server: ids, resends, timeouts, and the batch runs of Score track.
// The clock (now) and the sender (send(command, args)) are injected, so tests drive time and wire.

var Requests = (function () {
    var TAKE_TIMEOUT_MS = 30000; // a take with no terminal reply this long after sending is dropped
    var MAX_BATCH_BYTES = 6000;  // keep each batch datagram well under the 8 KB the server accepts

    function utf8Length(text) {
        return unescape(encodeURIComponent(text)).length;
    }

    // Paths in groups whose batch requests each fit a datagram.
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

    // options: {now: function () -> ms, send: function (command, args), model: function () -> name or "",
    // firstId: number}. Devices on several tracks may share one reply port, so each numbers its
    // requests from its own random start (ids are int32 on the wire) and ignores answers to ids it did
    // not send.
    function create(options) {
        var nextId = options.firstId;
        var pending = {};   // id -> {kind: "take", clips, name, path, words, sentAt} | {kind: "batch", clipsByPath, run}
        var reasons = {};   // id -> reasons received before its result
        var runs = {};      // run id -> {ids (batches still open), doneBy, totalBy (per batch id), scored, flagged, failed}

        function sendScore(id) {
            var request = pending[id];
            request.sentAt = options.now();
            var args = [id, request.path];
            if (options.model()) {
                args.push(options.model());
            }
            options.send("score", args.concat(request.words));
        }

        // take: {clips, name, path, words}; returns its id.
        function take(t) {
            var id = nextId++;
            pending[id] = {kind: "take", clips: t.clips, name: t.name, path: t.path, words: t.words, take: t.take, sentAt: 0};
            sendScore(id);
            return id;
        }

        // Takes sent while the server was away go again.
        function resendTakes() {
            for (var id in pending) {
                if (pending[id].kind === "take") {
                    sendScore(Number(id));
                }
            }
        }

        function get(id) {
            return pending.hasOwnProperty(id) ? pending[id] : null;
        }

        function addReason(id, reason) {
            if (!reasons[id]) {
                reasons[id] = [];
            }
            reasons[id].push(reason);
        }

        // The reasons that came before a result, most severe first; forgotten once read.
        function takeReasons(id) {
            var list = (reasons[id] || []).slice();
            delete reasons[id];
            list.sort(function (a, b) {
                return b.severity - a.severity;
            });
            return list;
        }

        function forget(id) {
            delete pending[id];
            delete reasons[id];
        }

        // Score track: every path in batches; clipsByPath maps a path to its clip ids.
        function batch(paths, clipsByPath) {
            var runId = nextId;
            var run = {ids: [], doneBy: {}, totalBy: {}, scored: 0, flagged: 0, failed: 0};
            var groups = splitPaths(paths);
            for (var g = 0; g < groups.length; g++) {
                var id = nextId++;
                var clips = {};
                for (var p = 0; p < groups[g].length; p++) {
                    clips[groups[g][p]] = clipsByPath[groups[g][p]];
                }
                pending[id] = {kind: "batch", clipsByPath: clips, run: runId};
                run.ids.push(id);
                run.doneBy[id] = 0;
                run.totalBy[id] = groups[g].length;
                options.send("batch", [id].concat(groups[g]));
            }
            runs[runId] = run;
            return summary(run);
        }

        function summary(run) {
            var done = 0;
            var total = 0;
            for (var id in run.totalBy) {
                done += run.doneBy[id];
                total += run.totalBy[id];
            }
            return {done: done, total: total, scored: run.scored, flagged: run.flagged, failed: run.failed,
                finished: run.ids.length === 0};
        }

        function runOf(id) {
            var request = get(id);
            return request && request.kind === "batch" && runs[request.run] ? runs[request.run] : null;
        }

        // A batch's answers: each returns the run's summary, or null when the id is not a running batch.
        function batchResult(id, flagged) {
            var run = runOf(id);
            if (!run) {
                return null;
            }
            run.scored += 1;
            run.flagged += flagged ? 1 : 0;
            return summary(run);
        }

        function batchProgress(id, done, total) {
            var run = runOf(id);
            if (!run) {
                return null;
            }
            run.doneBy[id] = done;
            run.totalBy[id] = total;
            return summary(run);
        }

        function batchFileError(id) {
            var run = runOf(id);
            if (!run) {
                return null;
            }
            run.failed += 1;
            return summary(run);
        }

        // The batch's terminal reply (done or error): the run's summary, finished when it was its last.
        function batchEnd(id) {
            var run = runOf(id);
            if (!run) {
                return null;
            }
            var runId = pending[id].run;
            delete pending[id];
            run.doneBy[id] = run.totalBy[id];
            var result = summary(run);
            run.ids.splice(run.ids.indexOf(id), 1);
            result.finished = run.ids.length === 0;
            if (result.finished) {
                delete runs[runId];
            }
            return result;
        }

        // Pressing Score track again starts over: batches still running are cancelled, answers ignored.
        function cancelBatches() {
            for (var id in pending) {
                if (pending[id].kind === "batch") {
                    options.send("cancel", [Number(id)]);
                    delete pending[id];
                }
            }
            runs = {};
        }

        // Takes without an answer TAKE_TIMEOUT_MS after sending: forgotten, their names returned.
        function dropStale() {
            var t = options.now();
            var names = [];
            for (var id in pending) {
                if (pending[id].kind === "take" && t - pending[id].sentAt > TAKE_TIMEOUT_MS) {
                    names.push(pending[id].name);
                    forget(id);
                }
            }
            return names;
        }

        function count() {
            var n = 0;
            for (var id in pending) {
                n += pending.hasOwnProperty(id) ? 1 : 0;
            }
            return n;
        }

        return {take: take, resendTakes: resendTakes, get: get, addReason: addReason, takeReasons: takeReasons,
            forget: forget, batch: batch, batchResult: batchResult, batchProgress: batchProgress,
            batchFileError: batchFileError, batchEnd: batchEnd, cancelBatches: cancelBatches, dropStale: dropStale,
            count: count};
    }

    return {create: create, splitPaths: splitPaths, TAKE_TIMEOUT_MS: TAKE_TIMEOUT_MS};
})();
