// The device's words: every text it shows, from records, without touching Live or the outlets.

var Ui = (function () {
    var NOT_RUNNING = "server not running \u2014 start `loopbridge serve`";
    var PORT_HINT = "no answer on the server port: if another program holds it (LiveOSC uses 9000), " +
        "run `loopbridge serve --port N` and set the server port box to N";
    var NO_TRACK = "put loopbridge on an audio track";

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

    // "2.1×": the score over the threshold; the bare score when there is no threshold.
    function ratio(result, ascii) {
        var times = ascii ? "x" : "\u00D7";
        return result.threshold > 0 ? formatNumber(result.score / result.threshold) + times : formatNumber(result.score);
    }

    function connected(pong, replyPort) {
        return "connected \u00B7 loopbridge " + pong.version + " \u00B7 " + pong.provider +
            (replyPort !== null ? " \u00B7 replies on " + replyPort : "");
    }

    function result(name, r, latency) {
        var text = name + ": score " + formatNumber(r.score) + " / threshold " + formatNumber(r.threshold) +
            (r.flag ? " \u2014 FLAGGED" : " \u2014 ok") + " \u00B7 " + r.model;
        if (latency !== null) {
            text += " \u00B7 " + latency + " ms (server " + formatNumber(r.ms) + " ms)";
        }
        return text;
    }

    function reasons(r) {
        var lines = [];
        for (var i = 0; i < r.reasons.length; i++) {
            var x = r.reasons[i];
            lines.push(x.kind + " at " + x.start_s.toFixed(2) + " s (" + Math.round(x.severity * 100) + "%): " + x.message);
        }
        if (lines.length === 0) {
            lines.push(r.flag ? "no technical fault found: the take sounds unlike your library" : "no problems found");
        }
        return lines.join("\n");
    }

    var MUSICAL = {timing: 1, wrong_note: 1, missing_note: 1, buzz: 1}; // departures found against the siblings

    // "take 3 of 4: tightest so far": where this take stands among the takes of its part. take:
    // {number: its place among them, of: how many the device knows}. compare: the server's comparison of
    // the take with its siblings (a `compare` reply, when the server sends one: its words, else rank 1 =
    // tightest, else where it departs); without it, where the first departure among the reasons starts
    // (the musical checks' kinds, bridge/music/compare.py).
    function takeLine(take, r, compare) {
        var line = "take " + take.number + " of " + take.of;
        if (compare && compare.message) {
            return line + ": " + compare.message;
        }
        if (compare && compare.rank === 1 && compare.of > 1) {
            return line + ": tightest so far";
        }
        if (compare && compare.departs_s >= 0) {
            return line + ": departs at " + compare.departs_s.toFixed(2) + " s (" + String(compare.measure).replace(/_/g, " ") + ")";
        }
        var first = null;
        for (var i = 0; i < r.reasons.length; i++) {
            if (MUSICAL[r.reasons[i].kind] && (first === null || r.reasons[i].start_s < first.start_s)) {
                first = r.reasons[i];
            }
        }
        return first ? line + ": departs at " + first.start_s.toFixed(2) + " s (" + first.kind.replace(/_/g, " ") + ")" : line;
    }

    var FROM = {request: "from Live", cli: "given", name: "from the file name", estimate: "estimated",
        "default": "assumed"};

    // "judged at 96 BPM (from Live), G minor (estimated), 4/4 (assumed)": the musical context of a `context`
    // reply (bpm -1 and key "" when unknown).
    function judged(c) {
        function from(source) {
            return FROM.hasOwnProperty(source) ? FROM[source] : source;
        }
        var parts = [c.bpm > 0 ? formatNumber(c.bpm) + " BPM (" + from(c.bpm_from) + ")" : "tempo unknown",
            c.key ? c.key + " (" + from(c.key_from) + ")" : "key unknown"];
        if (c.meter) {
            parts.push(c.meter + " (" + from(c.meter_from) + ")");
        }
        return "judged at " + parts.join(", ");
    }

    function scoring(name, takeNumber, siblings) {
        return "scoring " + name + (siblings ? " (take " + takeNumber + ")" : "") + "\u2026";
    }

    function progress(run) {
        var text = "track: " + run.done + " / " + run.total + " scored";
        if (run.flagged) {
            text += ", " + run.flagged + " flagged";
        }
        if (run.failed) {
            text += ", " + run.failed + " failed";
        }
        return text;
    }

    function trackDone(run) {
        return "track done: " + run.scored + " scored, " + run.flagged + " flagged" +
            (run.failed ? ", " + run.failed + " failed" : "");
    }

    function threshold(model) {
        return model.name + ": threshold " + formatNumber(model.thresholds[0].value) + " at sensitivity " +
            Math.round(model.quantile * 1000) / 1000;
    }

    function fileError(name, e) {
        return name + ": " + e.message + " (" + e.code + ")";
    }

    function failed(what, e) {
        return what + ": " + (e.message || "failed") + " (" + e.code + ")";
    }

    return {NOT_RUNNING: NOT_RUNNING, PORT_HINT: PORT_HINT, NO_TRACK: NO_TRACK, formatNumber: formatNumber,
        ratio: ratio, connected: connected, result: result, reasons: reasons, scoring: scoring, progress: progress,
        trackDone: trackDone, takeLine: takeLine, judged: judged, threshold: threshold, fileError: fileError, failed: failed};
})();
