// Watching Live for new takes on this device's track: Session clip slots, the Arrangement and (Live 12)
// take lanes. Calls onTake(clipId) outside Live's notifications, once per clip that was recorded here.

var LiveWatch = (function () {
    var ARRANGEMENT_SETTLE_MS = 500; // Live adds the recorded arrangement clips just after recording stops

    // The Track this device sits on, or null (a device outside a track: a return, the master).
    function findTrack() {
        var api = new LiveAPI("this_device");
        for (var depth = 0; depth < 8 && Lom.exists(api); depth++) {
            var parent = Lom.childIds(api, "canonical_parent");
            if (parent.length === 0) {
                return null;
            }
            api = Lom.byId(parent[0]);
            if (api.type === "Track") {
                return api;
            }
        }
        return null;
    }

    // options: {onTake: function (clipId), defer: function (fn), later: function (fn, ms)}
    function create(track, options) {
        var slotWatches = [];      // one per clip slot: {api, clip}
        var watchedLanes = [];     // LiveAPIs observing each take lane's arrangement_clips (Live 12)
        var recordStartFiles = null; // file path -> 1 for every clip of the track when Arrangement recording started
        var seenArrangement = {};  // arrangement clip id -> 1, looked at since recording started
        var recordingWatches = {}; // arrangement clip id -> is_recording watch, while it records
        var keep = [];             // observers kept alive for the device's life

        function start() {
            keep.push(Lom.observe(Number(track.id), "clip_slots", watchSlots));
            watchSlots();
            watchArrangement();
        }

        // ---- Session: a watch per clip slot, and per clip while it may record ----

        function watchSlots() {
            var ids = Lom.childIds(track, "clip_slots");
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
            Lom.unobserve(watch.api);
            if (watch.clip) {
                Lom.unobserve(watch.clip.api);
            }
        }

        function watchSlot(slotId) {
            var watch = {api: null, clip: null};
            watch.api = Lom.observe(slotId, "has_clip", function (atoms) {
                onHasClip(watch, Number(atoms[0]));
            });
            onHasClip(watch, Lom.number(watch.api, "has_clip")); // in case Live does not report at once
            return watch;
        }

        function onHasClip(watch, hasClip) {
            if (!hasClip) {
                if (watch.clip) {
                    Lom.unobserve(watch.clip.api);
                    watch.clip = null;
                }
                return;
            }
            var clipIds = Lom.childIds(watch.api, "clip");
            if (clipIds.length === 0 || (watch.clip && Number(watch.clip.api.id) === clipIds[0])) {
                return;
            }
            watch.clip = watchClip(clipIds[0]);
        }

        // An empty slot cannot be observed for its clip, so each new clip gets its own is_recording watch;
        // the 1 -> 0 edge is a take.
        function watchClip(clipId) {
            var clipWatch = {api: null, recording: null};
            clipWatch.api = Lom.observe(clipId, "is_recording", function (atoms) {
                var recording = Number(atoms[0]);
                if (clipWatch.recording === 1 && recording === 0) {
                    options.defer(function () {
                        options.onTake(clipId);
                    });
                }
                clipWatch.recording = recording;
            });
            if (clipWatch.recording === null) {
                clipWatch.recording = Lom.number(clipWatch.api, "is_recording");
            }
            return clipWatch;
        }

        function sessionClipIds() {
            var ids = [];
            for (var i = 0; i < slotWatches.length; i++) {
                if (Lom.number(slotWatches[i].api, "has_clip")) {
                    ids = ids.concat(Lom.childIds(slotWatches[i].api, "clip"));
                }
            }
            return ids;
        }

        // ---- Arrangement ----

        // Song.record_mode is the Arrangement Record button, not "recording is happening" (punch-in,
        // loop recording), so the device watches the track's arrangement clips and, in Live 12, every
        // take lane's, from the moment the button goes on until a settle time after it goes off. A clip
        // is a new take when its audio file was on none of the track's clips when the button went on: a
        // clip moved, pasted, split off by recording over it, or a Session clip launched into the
        // Arrangement plays a file the track already had.
        function watchArrangement() {
            if (!Lom.has(track, "arrangement_clips")) {
                return; // Live 10: Session only
            }
            keep.push(Lom.observe(Number(track.id), "arrangement_clips", onArrangementChange));
            if (Lom.has(track, "take_lanes")) {
                keep.push(Lom.observe(Number(track.id), "take_lanes", function () {
                    watchLanes();
                    onArrangementChange();
                }));
                watchLanes();
            }
            keep.push(Lom.observe("live_set", "record_mode", function (atoms) {
                var on = Number(atoms[0]);
                if (on && recordStartFiles === null) {
                    startArrangementRecording();
                } else if (!on && recordStartFiles !== null) {
                    options.later(stopArrangementRecording, ARRANGEMENT_SETTLE_MS);
                }
            }));
            if (Lom.number(new LiveAPI("live_set"), "record_mode") && recordStartFiles === null) {
                startArrangementRecording();
            }
        }

        function watchLanes() {
            for (var i = 0; i < watchedLanes.length; i++) {
                Lom.unobserve(watchedLanes[i]);
            }
            watchedLanes = [];
            var lanes = Lom.childIds(track, "take_lanes");
            for (var j = 0; j < lanes.length; j++) {
                watchedLanes.push(Lom.observe(lanes[j], "arrangement_clips", onArrangementChange));
            }
        }

        function onArrangementChange() {
            if (recordStartFiles !== null) {
                options.defer(scanArrangement);
            }
        }

        function startArrangementRecording() {
            recordStartFiles = {};
            seenArrangement = {};
            var ids = clipIds();
            for (var i = 0; i < ids.length; i++) {
                recordStartFiles[Lom.text(Lom.byId(ids[i]), "file_path")] = 1;
                seenArrangement[ids[i]] = 1;
            }
        }

        function stopArrangementRecording() {
            scanArrangement();
            recordStartFiles = null;
            for (var id in recordingWatches) {
                Lom.unobserve(recordingWatches[id].api);
            }
            recordingWatches = {};
        }

        // The clips on the track's take lanes (Live 12), lane by lane, so loop passes go in the order they
        // were played, then the track's own arrangement clips.
        function arrangementClipIds() {
            if (!Lom.has(track, "arrangement_clips")) {
                return [];
            }
            var ids = [];
            if (Lom.has(track, "take_lanes")) {
                var lanes = Lom.childIds(track, "take_lanes");
                for (var i = 0; i < lanes.length; i++) {
                    ids = ids.concat(Lom.childIds(Lom.byId(lanes[i]), "arrangement_clips"));
                }
            }
            return ids.concat(Lom.childIds(track, "arrangement_clips"));
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
                var clip = Lom.byId(ids[i]);
                if (Lom.number(clip, "is_recording")) {
                    if (!recordingWatches[ids[i]]) {
                        recordingWatches[ids[i]] = watchClip(ids[i]); // punch-out may come with the button still on
                    }
                    continue;
                }
                seenArrangement[ids[i]] = 1;
                if (!recordStartFiles[Lom.text(clip, "file_path")]) {
                    options.onTake(ids[i]);
                }
            }
        }

        // Every clip of the track, Session and Arrangement (take lanes too): what Score track scores.
        function clipIds() {
            return sessionClipIds().concat(arrangementClipIds());
        }

        start();
        return {clipIds: clipIds};
    }

    return {findTrack: findTrack, create: create};
})();
