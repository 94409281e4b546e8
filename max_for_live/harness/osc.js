"use strict";
// OSC 1.0 messages as Max's udpsend writes them and udpreceive reads them: whole numbers as int32,
// other numbers as float32, text as strings. Enough of the format for the end-to-end harness.

function padded(buf) {
    const size = Math.ceil((buf.length + 1) / 4) * 4; // at least one NUL
    const out = Buffer.alloc(size);
    buf.copy(out);
    return out;
}

function encode(address, args) {
    let tags = ",";
    const parts = [];
    for (const arg of args) {
        if (typeof arg === "number" && Number.isInteger(arg) && Math.abs(arg) < 2 ** 31) {
            tags += "i";
            const b = Buffer.alloc(4);
            b.writeInt32BE(arg);
            parts.push(b);
        } else if (typeof arg === "number") {
            tags += "f";
            const b = Buffer.alloc(4);
            b.writeFloatBE(arg);
            parts.push(b);
        } else {
            tags += "s";
            parts.push(padded(Buffer.from(String(arg), "utf8")));
        }
    }
    return Buffer.concat([padded(Buffer.from(address, "utf8")), padded(Buffer.from(tags, "utf8")), ...parts]);
}

function readString(buf, at) {
    const end = buf.indexOf(0, at);
    if (end < 0) throw new Error("OSC string without a terminating NUL");
    return [buf.toString("utf8", at, end), Math.ceil((end + 1) / 4) * 4];
}

// Returns a list of [address, args] (a bundle holds several messages).
function decode(buf) {
    if (buf.toString("utf8", 0, 8) === "#bundle\0") {
        const messages = [];
        for (let at = 16; at < buf.length;) {
            const size = buf.readInt32BE(at);
            messages.push(...decode(buf.subarray(at + 4, at + 4 + size)));
            at += 4 + size;
        }
        return messages;
    }
    let [address, at] = readString(buf, 0);
    let tags = ",";
    if (at < buf.length) [tags, at] = readString(buf, at);
    const args = [];
    for (const tag of tags.slice(1)) {
        if (tag === "i") { args.push(buf.readInt32BE(at)); at += 4; }
        else if (tag === "f") { args.push(buf.readFloatBE(at)); at += 4; }
        else if (tag === "d") { args.push(buf.readDoubleBE(at)); at += 8; }
        else if (tag === "h") { args.push(Number(buf.readBigInt64BE(at))); at += 8; }
        else if (tag === "s" || tag === "S") { let s; [s, at] = readString(buf, at); args.push(s); }
        else if (tag === "T") args.push(1);
        else if (tag === "F") args.push(0);
        else if (tag === "N" || tag === "I") args.push(0);
        else throw new Error(`unsupported OSC type tag ${tag}`);
    }
    return [[address, args]];
}

module.exports = { encode, decode };
