// What a take is: the region of its file a clip plays, the song's context, and the track's earlier
// takes of the same part (siblings), as the named arguments of a score request.

var Takes = (function () {
    var MAX_SIBLINGS = 8;           // earlier takes of the same part sent with a take (datagram size)
    var SAME_PART_TOLERANCE = 0.05; // takes whose regions differ in length by less than this are one part
    var NOTE_NAMES = ["C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B"];

    function songTempo() {
        var bpm = Lom.number(new LiveAPI("live_set"), "tempo");
        return bpm > 0 ? bpm : 120;
    }

    // The part of its file a clip plays, in seconds of the file: the loop brace when looping, else the
    // start and end markers. Warped clips keep markers in beats: they are mapped through the clip's warp
    // markers (piecewise linear, extended past the ends by the nearest segment) or, without them, at the
    // song's tempo (right for a take recorded at that tempo and never re-warped). Unwarped clips keep
    // their markers in seconds of the file.
    function region(clip) {
        var looping = Lom.number(clip, "looping");
        var start = Lom.number(clip, looping ? "loop_start" : "start_marker");
        var end = Lom.number(clip, looping ? "loop_end" : "end_marker");
        if (!isFinite(start) || !isFinite(end)) {
            return null;
        }
        if (Lom.number(clip, "warping")) {
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
        if (!Lom.has(clip, "warp_markers")) {
            return [];
        }
        try {
            var parsed = JSON.parse(Lom.text(clip, "warp_markers"));
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

    // Named arguments for the musical checks: tempo, meter and (Live 12) key, read when the take is sent.
    function songContext() {
        var s = new LiveAPI("live_set");
        var words = ["bpm", songTempo()];
        var num = Lom.number(s, "signature_numerator");
        var den = Lom.number(s, "signature_denominator");
        if (num > 0 && den > 0) {
            words.push("meter", num + "/" + den);
        }
        if (Lom.has(s, "root_note") && Lom.has(s, "scale_name")) {
            var root = NOTE_NAMES[Lom.number(s, "root_note") % 12];
            var scale = Lom.text(s, "scale_name");
            if (root && scale) {
                words.push("key", root + " " + scale);
            }
        }
        return words;
    }

    // The track's takes so far, oldest first: {path, length, name, part, number}. siblings() gives the earlier
    // takes of the same part: other files whose regions are about as long, newest first.
    function history() {
        var takes = [];

        function siblings(path, length) {
            var out = [];
            for (var i = takes.length - 1; i >= 0 && out.length < MAX_SIBLINGS; i--) {
                var t = takes[i];
                if (t.path !== path && indexOfPath(out, t.path) < 0 &&
                        Math.abs(t.length - length) <= SAME_PART_TOLERANCE * Math.max(t.length, length)) {
                    out.push(t);
                }
            }
            return out;
        }

        // A new take joins its siblings' part (or starts one); take.number is its place in the part.
        function add(take, siblingsOfIt) {
            take.part = siblingsOfIt.length ? siblingsOfIt[0].part : takes.length + 1;
            take.number = partSize(take) + 1;
            takes.push(take);
            return take;
        }

        // How many takes of this take's part the track has now (later ones included).
        function partSize(take) {
            var n = 0;
            for (var i = 0; i < takes.length; i++) {
                n += takes[i].part === take.part ? 1 : 0;
            }
            return n;
        }

        return {siblings: siblings, add: add, partSize: partSize};
    }

    function indexOfPath(list, path) {
        for (var i = 0; i < list.length; i++) {
            if (list[i].path === path) {
                return i;
            }
        }
        return -1;
    }

    // The words after a score request's path: region, song context, then one "sibling <path>" each.
    function words(reg, siblings) {
        var out = [];
        if (reg) {
            out.push("start_s", reg.start, "end_s", reg.end);
        }
        out = out.concat(songContext());
        for (var i = 0; i < siblings.length; i++) {
            out.push("sibling", siblings[i].path);
        }
        return out;
    }

    return {region: region, songContext: songContext, history: history, words: words};
})();
