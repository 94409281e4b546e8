// Reading Live through LiveAPI: atoms into values, "id N" lists into ids, which properties this Live has.

var Lom = (function () {
    // LiveAPI.get returns a list of atoms; a name or path with spaces may come back split.
    function get(api, prop) {
        var v = api.get(prop);
        if (v === undefined || v === null) {
            return v;
        }
        if (typeof v === "object" && v.length !== undefined) {
            return v.length === 1 ? v[0] : Array.prototype.join.call(v, " ");
        }
        return v;
    }

    function text(api, prop) {
        return String(get(api, prop) || "");
    }

    function number(api, prop) {
        return Number(get(api, prop));
    }

    function ids(list) {
        var out = [];
        if (!list) {
            return out;
        }
        for (var i = 0; i + 1 < list.length; i += 2) {
            if (list[i] === "id" && Number(list[i + 1]) !== 0) {
                out.push(Number(list[i + 1]));
            }
        }
        return out;
    }

    function childIds(api, child) {
        return ids(api.get(child));
    }

    function byId(id) {
        return new LiveAPI("id " + id);
    }

    function exists(api) {
        return api && Number(api.id) !== 0;
    }

    // LiveAPI.info lists an object's properties and children; older Lives lack some (take lanes: 12).
    function has(api, name) {
        return new RegExp("^(?:property|children|child) " + name + "(?:\\s|$)", "m").test(String(api.info));
    }

    // An observer on one property of the object with this id; fn gets the new value's atoms.
    function observe(id, prop, fn) {
        var api = new LiveAPI(function (args) {
            if (args[0] === prop) {
                fn(args.slice(1));
            }
        }, typeof id === "string" ? id : "id " + id);
        api.property = prop;
        return api;
    }

    function unobserve(api) {
        if (api) {
            api.property = "";
        }
    }

    return {get: get, text: text, number: number, ids: ids, childIds: childIds, byId: byId, exists: exists, has: has,
        observe: observe, unobserve: unobserve};
})();
