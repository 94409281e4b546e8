// The server's replies as named records, read by the schema shared with the Python server
// (bridge/server/replies.json, assembled into this script as REPLY_SCHEMA), and requests as the
// words [udpsend] turns into OSC.

var Protocol = (function () {
    var PREFIX = REPLY_SCHEMA.prefix;
    var NO_ID = -1; // the id of an error answering a request without one (ping, models, sensitivity)

    function cast(value, type) {
        if (type === "s") {
            return String(value);
        }
        if (type === "id") {
            var n = Number(value);
            return isFinite(n) && String(value) !== "" ? n : String(value);
        }
        return Number(value);
    }

    // {reply: "result", id: 17, path: "...", ...} for a reply of the protocol; null for anything else
    // (someone else's traffic on the port, an unknown reply, too few arguments).
    function decode(address, args) {
        if (String(address).indexOf(PREFIX) !== 0) {
            return null;
        }
        var kind = String(address).substring(PREFIX.length);
        var spec = REPLY_SCHEMA.replies.hasOwnProperty(kind) ? REPLY_SCHEMA.replies[kind] : null;
        if (!spec || args.length < spec.args.length) {
            return null;
        }
        var record = {reply: kind};
        for (var i = 0; i < spec.args.length; i++) {
            record[spec.args[i].name] = cast(args[i], spec.args[i].type);
        }
        var rest = Array.prototype.slice.call(args, spec.args.length);
        if (spec.rest && spec.rest.kind === "text") {
            record[spec.rest.name] = rest.join(" ");
        } else if (spec.rest && spec.rest.kind === "pairs") {
            var pairs = [];
            for (var j = 0; j + 1 < rest.length; j += 2) {
                pairs.push({name: cast(rest[j], spec.rest.types[0]), value: cast(rest[j + 1], spec.rest.types[1])});
            }
            record[spec.rest.name] = pairs;
        }
        return record;
    }

    // The words of a request: the address, its arguments, then the port to answer on (the server
    // takes a trailing number after a request's arguments as the reply port).
    function request(command, args, replyPort) {
        var words = [PREFIX + command].concat(args);
        if (replyPort !== null && replyPort !== undefined) {
            words.push(replyPort);
        }
        return words;
    }

    return {PREFIX: PREFIX, NO_ID: NO_ID, decode: decode, request: request};
})();
