// Marking clips with their result: one LOM set (one undo step in Live) per take by default.

var Marks = (function () {
    var STYLES = {
        unicode: {flag: "\u26A0", ok: "\u2713", sep: " \u00B7 "}, // "⚠ 2.1× clipping · name"
        ascii: {flag: "!", ok: "ok", sep: " | "}                     // "! 2.1x clipping | name", for fonts without them
    };
    // Either style's marker, so switching styles replaces an old marker instead of stacking a new one.
    var MARKER = /^(?:\u26A0[^\u00B7]* \u00B7 |\u2713[^\u00B7]* \u00B7 |! [^|]* \| |! \| |ok [^|]* \| )/;
    var WARNING_COLOUR = 0xFF3636; // Live snaps it to the nearest palette colour (red)

    function strip(name) {
        var m = MARKER.exec(name);
        return m ? name.substring(m[0].length) : name;
    }

    function label(clip) {
        return strip(Lom.text(clip, "name")) || "untitled clip";
    }

    // The name a clip should have for this result: "⚠ 2.1× clipping · <name>" when flagged (the
    // ratio only when the learned model flagged it, the word the most severe reason), the bare name
    // when normal (or "✓ 0.4× · <name>" with Mark OK on). Any earlier marker is replaced.
    function wantedName(current, result, settings) {
        var style = STYLES[settings.ascii ? "ascii" : "unicode"];
        var name = strip(current);
        if (result.flag) {
            var words = [style.flag];
            if (result.score >= result.threshold) {
                words.push(Ui.ratio(result, settings.ascii));
            }
            if (result.reasons.length) {
                words.push(result.reasons[0].kind);
            }
            return words.join(" ") + style.sep + name;
        }
        return settings.markOk ? style.ok + " " + Ui.ratio(result, settings.ascii) + style.sep + name : name;
    }

    // settings: {on, markOk, colour, ascii}; originals: clip id -> colour before this device flagged it.
    // The colour (Colour on) is a second set, so a second undo step; none when the name is right.
    function mark(clipId, result, settings, originals) {
        var clip = Lom.byId(clipId);
        if (!settings.on || !Lom.exists(clip)) {
            return;
        }
        var current = Lom.text(clip, "name");
        if (result.flag && settings.colour && originals[clipId] === undefined) {
            originals[clipId] = Lom.number(clip, "color");
            clip.set("color", WARNING_COLOUR);
        } else if (!result.flag && originals[clipId] !== undefined) {
            clip.set("color", originals[clipId]);
            delete originals[clipId];
        }
        var wanted = wantedName(current, result, settings);
        if (wanted !== current) {
            clip.set("name", wanted);
        }
    }

    return {strip: strip, label: label, wantedName: wantedName, mark: mark, WARNING_COLOUR: WARNING_COLOUR};
})();
