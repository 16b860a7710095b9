/*
 * The front tier's download handler (SPEC §9): nginx with njs 0.7.9 answers a current-style
 * download URL itself, exactly as the service's stream mode would (SPEC §4).
 *
 *   1. the request: OPTIONS is a CORS preflight, any method but GET and HEAD a 405;
 *   2. the token, checked as files_service/tokens.py checks it: shape, key id, HMAC-SHA256
 *      over the payload, a NUL and the filename as it appears in the URL, then time (the
 *      same leeway; more than a day ahead is refused);
 *   3. the file and its principal, from the service's lookup (an internal subrequest that
 *      nginx caches for FILES_REGISTRY_CACHE_SECONDS): revoked, deleted, or what to send;
 *   4. the HTTP answer, decided as files_service/delivery/conditional.py decides it (304,
 *      206, 416, 200), with the headers of files_service/delivery, Cache-Control computed now;
 *   5. the bytes, from an internal location: the local storage folder (sendfile) or S3.
 *
 * Where this code cannot be sure to judge a request exactly as the service would (a date
 * in a format other than the one browsers send, non-ASCII in a header it reads, a request
 * target nginx normalised), it hands the whole request to the service, whose stream mode
 * answers it: the answer is the same either way, only the cost differs.
 *
 * Everything here that the service also defines (refusal documents, fixed headers, the key
 * ring, limits) comes from the generated modules files_edge_settings.js and files_edge_keys.js
 * (`files-service edge-config`), never from a copy written by hand.
 *
 * The cost of a request is mostly njs's own: njs 0.7 clones its VM and runs the modules' top
 * level for every request, and every step of interpreted code counts (docs/benchmarks.md,
 * "The front tier", has the figures of each stage).
 */

import S from 'files_edge_settings.js';
import KEYRING from 'files_edge_keys.js';

const crypto = require('crypto');

// njs 0.7 runs a module's top level for every request: what is here stays cheap (no Buffer
// built, no list walked), and the key of a request is decoded when it is needed.
const DISPOSITIONS = {i: 'inline', a: 'attachment'};
const own = Object.prototype.hasOwnProperty;

function ownValue(table, name) {
    return own.call(table, name) ? table[name] : undefined;
}
const FALLBACK = 'fallback';
const OWS = ' \t';
// "$" in njs's regular expressions (PCRE) also matches before a final newline, as in
// Python's re: the patterns below end with "(?![\s\S])" instead, the very end of the input.
// The headers of a request that decide the answer; any of them holding a byte outside
// printable ASCII goes to the service (gunicorn reads headers as latin-1, njs as UTF-8).
const PRINTABLE = /^[\t\x20-\x7e]*(?![\s\S])/;
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), ([0-9]{2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) GMT(?![\s\S])/;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DIGIT = /[0-9]/;
const ETAG_ITEM = /[ \t]*([Ww]\/)?(?:"([^"]*)"|([^" \t,]+))[ \t]*(?:,|$)/y;
const PLAIN_INT = /^-?[0-9]+(?![\s\S])/;
const ZERO_SUFFIX = /^-0+(?![\s\S])/;
const HEADER_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?![\s\S])/;
// One range that nginx's static module parses exactly as evaluate() does (see
// files_service/delivery/accel.py, the same rule): anything else goes to the service.
const CANONICAL_RANGE = /^bytes=(?:[0-9]{1,15}-[0-9]{0,15}|-[0-9]{1,15})(?![\s\S])/i;
// Numbers longer than this lose precision in JavaScript; such a Range goes to the service.
const MAX_DIGITS = 15;
const IDS = /^[A-Za-z0-9_]{1,64}(?![\s\S])/;

/* What only refusals, error pages and preflights use (refusal documents, preflight rules):
 * files_edge_settings.js builds it when asked, once in a request. */
var rareSettings;

function rare() {
    if (rareSettings === undefined) {
        rareSettings = S.rare();
    }
    return rareSettings;
}

// -- helpers over bytes and strings -------------------------------------------------------

function strip(value, chars) {
    var start = 0;
    var end = value.length;
    while (start < end && chars.indexOf(value[start]) >= 0) {
        start++;
    }
    while (end > start && chars.indexOf(value[end - 1]) >= 0) {
        end--;
    }
    return value.slice(start, end);
}

function hexValue(byte) {
    if (byte >= 0x30 && byte <= 0x39) { return byte - 0x30; }
    if (byte >= 0x41 && byte <= 0x46) { return byte - 0x37; }
    if (byte >= 0x61 && byte <= 0x66) { return byte - 0x57; }
    return -1;
}

/* The bytes of `buf` with each %XX decoded and anything else kept as it is, as Python's
 * urllib.parse.unquote_to_bytes (which gunicorn applies to the path) does. */
function unquoteBytes(buf) {
    if (buf.indexOf(0x25) < 0) {
        return buf;
    }
    var out = Buffer.alloc(buf.length);
    var j = 0;
    for (var i = 0; i < buf.length; i++) {
        var byte = buf[i];
        if (byte === 0x25 && i + 2 < buf.length) {
            var high = hexValue(buf[i + 1]);
            var low = hexValue(buf[i + 2]);
            if (high >= 0 && low >= 0) {
                out[j++] = high * 16 + low;
                i += 2;
                continue;
            }
        }
        out[j++] = byte;
    }
    return out.slice(0, j);
}

function isAscii(buf) {
    for (var i = 0; i < buf.length; i++) {
        if (buf[i] > 0x7f) {
            return false;
        }
    }
    return true;
}

/* The access_token of a raw query string (nginx's $args), as the service's split_query_token
 * finds it: the value of the one `access_token=` parameter, percent-decoded; "" when repeated;
 * undefined when absent. A token with any byte outside ASCII is never good (the service
 * refuses it as malformed; here its signature cannot match), so such bytes are left as they
 * are, or decoded to a string the check refuses. */
function queryToken(query) {
    if (query.indexOf('access_token=') < 0) {
        return undefined;
    }
    var token;
    var parts = query.split('&');
    for (var i = 0; i < parts.length; i++) {
        var part = parts[i];
        if (part.startsWith('access_token=')) {
            if (token !== undefined) {
                return '';
            }
            token = part.slice(13);
            if (token.indexOf('%') >= 0) {
                var value = unquoteBytes(Buffer.from(token));
                token = isAscii(value) ? value.toString() : '\u00ff';
            }
        }
    }
    return token;
}

// -- the token (files_service/tokens.py) --------------------------------------------------

/* Whether two signatures are equal, in a time that says nothing of where they differ: their
 * SHA-256 digests are compared instead (a loop over the characters, the usual way, costs tens
 * of microseconds in njs 0.7, a digest a few). */
function sameSignature(a, b) {
    return crypto.createHash('sha256').update(a).digest('base64')
        === crypto.createHash('sha256').update(b).digest('base64');
}

/* The claims of a good current-style token for `name` (the filename's UTF-8 bytes as they
 * appear in the URL, as a string or bytes), else {refusal: code[, expiresAt]}; checked in
 * tokens.py's order. */
function verify(token, name, now) {
    var invalid = {refusal: 'invalid_token'};
    // tokens.py also refuses a token with non-ASCII characters first; here such a token fails
    // its signature instead (the service signs ASCII only): the same refusal, one regex less.
    if (!token || token.length > S.maxTokenChars) {
        return invalid;
    }
    var parts = token.split('.');
    if (parts.length !== 6) {
        return invalid;
    }
    var key;
    for (var i = 0; i < KEYRING.length; i++) {  // [kid, key]: a handful, and no kid is special
        if (KEYRING[i][0] === parts[0]) {
            key = KEYRING[i][1];
        }
    }
    if (key === undefined) {
        return invalid;
    }
    var signature = parts[5];
    var payload = token.slice(0, token.length - signature.length - 1);
    var expected = crypto.createHmac('sha256', Buffer.from(key, 'base64'))
        .update(payload).update('\0').update(name)
        .digest('base64url');
    if (!sameSignature(expected, signature)) {
        return invalid;
    }
    // The signature is good: what follows was written by the service, but stays defensive.
    var disposition = ownValue(DISPOSITIONS, parts[4]);
    if (disposition === undefined || !/^[0-9]+(?![\s\S])/.test(parts[3])) {
        return invalid;
    }
    var expires = Number(parts[3]);
    if (expires - now > S.maxAheadSeconds) {
        return invalid;
    }
    if (now > expires + S.leewaySeconds) {
        return {refusal: 'expired_token', expiresAt: expires};
    }
    return {kid: parts[0], fileId: parts[1], principalId: parts[2], expiresAt: expires,
            disposition: disposition};
}

// -- response headers (files_service/delivery/caching.py) ---------------------------------

function secondsLeft(expiresAt, now) {
    return Math.floor(expiresAt) - Math.ceil(now);
}

/* delivery.cache_control: its wording comes from the service (the settings module), the
 * seconds left are computed here, when the answer leaves nginx. */
function cacheControl(expiresAt, now) {
    var remaining = secondsLeft(expiresAt, now);
    if (remaining <= 0) {
        return S.cacheControl.dead;
    }
    // split and join: a regular expression's replace costs about three times as much here
    return S.cacheControl.live.split('{seconds}').join(String(remaining));
}

/* Python's str.split(",", maxsplit): at most `max` splits, the rest in the last part. */
function splitMax(value, separator, max) {
    var parts = value.split(separator);
    if (parts.length > max + 1) {
        parts = parts.slice(0, max).concat([parts.slice(max).join(separator)]);
    }
    return parts;
}

function preflightHeaders(requested) {
    var rules = rare().preflight;
    var allowed = rules.allowedHeaders.slice();
    if (requested) {
        var known = Object.create(null);
        allowed.forEach(function (name) { known[name.toLowerCase()] = true; });
        var extra = 0;
        var parts = splitMax(requested, ',', rules.maxEchoed * 2);
        for (var i = 0; i < parts.length; i++) {
            var name = strip(parts[i], OWS).toLowerCase();
            if (name.length <= rules.maxHeaderName && HEADER_TOKEN.test(name)
                && !own.call(known, name) && extra < rules.maxEchoed) {
                known[name] = true;
                allowed.push(name);
                extra++;
            }
        }
    }
    return [
        ['Access-Control-Allow-Methods', rules.methods],
        ['Access-Control-Allow-Headers', allowed.join(', ')],
        ['Access-Control-Max-Age', rules.maxAge],
        ['Vary', rules.vary],
    ];
}

// -- conditional and range requests (files_service/delivery/conditional.py) ----------------

/* Unix seconds of an HTTP date as werkzeug.http.parse_date reads it; null where it reads
 * none; FALLBACK where only Python's email.utils can tell (any other format). */
function httpDateSeconds(value) {
    if (!value) {
        return null;
    }
    var m = IMF_FIXDATE.exec(value);
    if (m === null) {
        // Python needs digits for the day, year and time: without any, there is no date.
        return DIGIT.test(value) ? FALLBACK : null;
    }
    var year = Number(m[3]);
    if (year < 100) {  // email.utils reads two-digit years the POSIX way, "0099" too
        year += year > 68 ? 1900 : 2000;
    }
    var month = MONTHS.indexOf(m[2]);
    var day = Number(m[1]);
    var hour = Number(m[4]);
    var minute = Number(m[5]);
    var second = Number(m[6]);
    var days = new Date(Date.UTC(year, month + 1, 0)).getUTCDate();
    if (day < 1 || day > days || hour > 23 || minute > 59 || second > 59) {
        return null;  // datetime() refuses it; werkzeug then returns None
    }
    return Date.UTC(year, month, day, hour, minute, second) / 1000;
}

/* Whether a parsed If-None-Match list holds `tag` (werkzeug's parse_etags, then
 * ETags.contains_weak: weak comparison, "*" only as the whole value). */
function etagListHas(value, tag) {
    if (value === '*') {
        return true;
    }
    var pos = 0;
    while (true) {
        ETAG_ITEM.lastIndex = pos;
        var m = ETAG_ITEM.exec(value);
        if (m === null) {
            pos = value.indexOf(',', pos) + 1;
            if (pos === 0) {
                return false;
            }
            continue;
        }
        pos = ETAG_ITEM.lastIndex;
        var found = m[2] || m[3];
        if (found === tag) {
            return true;
        }
        if (pos >= value.length) {
            return false;
        }
    }
}

/* True where the client's copy is current; FALLBACK where unsure (_not_modified). */
function notModified(tag, lastModified, ifNoneMatch, ifModifiedSince) {
    var inm = ifNoneMatch !== undefined ? strip(ifNoneMatch, OWS) : '';
    if (inm) {
        return etagListHas(inm, tag);
    }
    var since = httpDateSeconds(ifModifiedSince);
    if (since === FALLBACK) {
        return FALLBACK;
    }
    return since !== null && lastModified <= since;
}

/* Whether an If-Range holds, so that Range applies (strong tag, or the exact date). */
function ifRangeHolds(ifRange, tag, lastModified) {
    var value = strip(ifRange, OWS);
    if (value.startsWith('W/')) {
        return false;
    }
    if (value.startsWith('"')) {
        var inner = value.slice(1, -1);
        return value.length >= 2 && value.endsWith('"') && inner.indexOf('"') < 0
            && inner === tag;
    }
    var date = httpDateSeconds(value);
    if (date === FALLBACK) {
        return FALLBACK;
    }
    return date !== null && date === lastModified;
}

function plainInt(value) {
    value = strip(value, OWS);
    if (!PLAIN_INT.test(value)) {
        return null;
    }
    if (value.replace('-', '').length > MAX_DIGITS) {
        return FALLBACK;
    }
    return Number(value);
}

function partial(start, end, size) {
    return {status: 206, start: start, end: end, contentRange: 'bytes ' + start + '-' + end + '/' + size};
}

/* The 206 or 416 a GET's Range asks for; null to ignore it (200); FALLBACK where unsure. */
function applyRange(rangeHeader, size) {
    var eq = rangeHeader.indexOf('=');
    if (eq < 0) {
        return null;
    }
    if (strip(rangeHeader.slice(0, eq), OWS).toLowerCase() !== 'bytes') {
        return null;
    }
    var specs = rangeHeader.slice(eq + 1).split(',')
        .map(function (part) { return strip(part, OWS); })
        .filter(function (spec) { return spec.length > 0; });
    if (specs.length !== 1) {
        return null;
    }
    var spec = specs[0];
    var unsatisfiable = {status: 416, start: 0, end: -1, contentRange: 'bytes */' + size};
    if (ZERO_SUFFIX.test(spec)) {
        return unsatisfiable;
    }
    // werkzeug.http.parse_range_header of the one spec
    if (spec.indexOf('-') < 0) {
        return null;
    }
    var first;
    var stop = null;
    if (spec.startsWith('-')) {
        first = plainInt(spec);
        if (first === FALLBACK) {
            return FALLBACK;
        }
        if (first === null || first === 0) {
            return null;
        }
    } else {
        var dash = spec.indexOf('-');
        first = plainInt(spec.slice(0, dash));
        var endText = strip(spec.slice(dash + 1), OWS);
        if (first === FALLBACK) {
            return FALLBACK;
        }
        if (first === null) {
            return null;
        }
        if (endText) {
            var last = plainInt(endText);
            if (last === FALLBACK) {
                return FALLBACK;
            }
            if (last === null) {
                return null;
            }
            stop = last + 1;
            if (first >= stop) {
                return null;
            }
        }
    }
    if (first < 0) {  // a suffix: the last -first bytes, the whole file where it is longer
        if (size === 0) {
            return null;
        }
        return partial(Math.max(size + first, 0), size - 1, size);
    }
    if (first >= size) {
        return unsatisfiable;
    }
    return partial(first, (stop === null ? size : Math.min(stop, size)) - 1, size);
}

/* The status and bytes of a GET or HEAD (evaluate()), or FALLBACK. `h` holds the request's
 * Range, If-Range, If-None-Match and If-Modified-Since (undefined where absent). */
function evaluate(method, size, tag, lastModified, h) {
    var fresh = notModified(tag, lastModified, h.ifNoneMatch, h.ifModifiedSince);
    if (fresh === FALLBACK) {
        return FALLBACK;
    }
    if (fresh) {
        return {status: 304, start: 0, end: -1, contentRange: null};
    }
    var whole = {status: 200, start: 0, end: size - 1, contentRange: null};
    if (method !== 'GET' || h.range === undefined) {
        return whole;
    }
    if (h.ifRange && strip(h.ifRange, OWS)) {
        var holds = ifRangeHolds(h.ifRange, tag, lastModified);
        if (holds === FALLBACK) {
            return FALLBACK;
        }
        if (!holds) {
            return whole;
        }
    }
    var ranged = applyRange(h.range, size);
    return ranged === null ? whole : ranged;
}

// -- answering ------------------------------------------------------------------------------

function setHeaders(r, headers) {
    for (var i = 0; i < headers.length; i++) {
        r.headersOut[headers[i][0]] = headers[i][1];
    }
}

/* A refusal: the service's own JSON:API document (rendered by the service's code into the
 * settings module), no-store, and the headers of every download response. */
function refuse(r, code, extra, meta) {
    var answers = rare();
    var refusal = answers.refusals[code];
    var body = refusal.body;
    if (meta !== undefined) {
        body = answers.expiredTemplate.replace(answers.placeholders.expiredAt, meta.expiredAt)
            .replace(answers.placeholders.serverTime, meta.serverTime);
    }
    r.variables.files_tier = 'edge';
    r.variables.files_note = code;
    r.headersOut['Content-Type'] = answers.errorContentType;
    r.headersOut['Cache-Control'] = 'no-store';
    setHeaders(r, refusal.headers);
    if (extra !== undefined) {
        setHeaders(r, extra);
    }
    setHeaders(r, S.common);
    r.return(refusal.status, body);
}

function iso(seconds) {
    return new Date(seconds * 1000).toISOString();
}

/* Hand the whole request to the service (its stream mode answers it). */
function toService(r, why) {
    r.variables.files_tier = 'service';
    r.variables.files_note = why;
    r.internalRedirect('@files_service');
}

function header(r, name) {
    var value = r.headersIn[name];
    return value === undefined ? undefined : String(value);
}

/* The download handler of every one-segment path (`location ~ ^/[^/]*$`). */
function download(r) {
    try {
        handle(r);
    } catch (e) {
        failed(r, e);
    }
}

function failed(r, e) {
    // Never the message itself: it could quote a value of the request.
    r.variables.files_note = 'error:' + (e && e.name ? e.name : 'unknown');
    r.variables.files_tier = 'edge';
    answerRoute(r, 500);
}

/* The service's own document for a route error (a 404 of an unknown path, a 400...). */
function answerRoute(r, status) {
    r.headersOut['Content-Type'] = rare().errorContentType;
    r.headersOut['Cache-Control'] = 'no-store';
    r.return(status, rare().routeErrors[String(status)]);
}

/* error_page's named locations for the errors nginx itself answers with; the location sets
 * $files_error_status. */
function routeError(r) {
    var status = Number(r.variables.files_error_status);
    // TRACE and CONNECT, which nginx refuses itself before any handler runs: on a download
    // URL, the download's own 405 (Allow, CORS), as the service answers it.
    if (status === 405 && /^\/[^\/]*$/.test(r.uri)
        && queryToken(r.variables.args || '') !== undefined) {
        return refuse(r, 'method_not_allowed');
    }
    r.variables.files_tier = 'edge';
    if (r.variables.files_note === '-') {
        r.variables.files_note = 'nginx-' + status;
    }
    answerRoute(r, status);
}

/* The request's path as the service reads it: percent-decoded (gunicorn's unquote_to_bytes)
 * and, as a name, UTF-8. {path, name}: ``path`` a string (null where its bytes are no UTF-8),
 * ``name`` what follows the first "/", as a string or as bytes. Native decodeURIComponent
 * first: where it gives up (a "%" that starts no escape, bytes that are no UTF-8), the bytes
 * are decoded one by one as Python's unquote does, which is slow in njs and rare. */
function requestPath(r, rawPath) {
    try {
        var decoded = decodeURIComponent(rawPath);
        return {path: decoded, name: decoded.slice(1), slash: decoded.indexOf('/', 1) >= 0};
    } catch (e) {
        // fall through
    }
    var raw = r.rawVariables.request_uri;
    var mark = raw.indexOf(0x3f /* ? */);
    var bytes = unquoteBytes(mark < 0 ? raw : raw.slice(0, mark));
    var name = bytes.slice(1);
    try {
        new TextDecoder('utf-8', {fatal: true}).decode(name);
    } catch (e) {
        name = null;
    }
    return {path: null, name: name, slash: bytes.indexOf(0x2f, 1) >= 0};
}

function handle(r) {
    r.variables.files_log_uri = r.uri;
    var target = r.variables.request_uri;
    if (target[0] !== '/' || target.indexOf('#') >= 0) {
        return toService(r, 'target');
    }
    var mark = target.indexOf('?');
    var token = mark < 0 ? undefined : queryToken(r.variables.args || '');
    var path = requestPath(r, mark < 0 ? target : target.slice(0, mark));
    if (path.slash) {
        // nginx normalised the path ("/x/../f", "//f") into one segment; the service sees
        // the path as sent, which is not a download.
        return toService(r, 'path');
    }
    if (token === undefined) {
        if (S.internalOnly.indexOf(path.path) >= 0) {
            return refuseHidden(r);
        }
        return toService(r, 'no-token');
    }
    var method = r.method;
    if (method === 'OPTIONS') {
        var requested = header(r, 'Access-Control-Request-Headers');
        if (requested !== undefined && !PRINTABLE.test(requested)) {
            return toService(r, 'header');
        }
        r.variables.files_tier = 'edge';
        setHeaders(r, preflightHeaders(requested));
        setHeaders(r, S.common);
        r.status = 204;
        r.sendHeader();
        r.finish();
        return;
    }
    if (method !== 'GET' && method !== 'HEAD') {
        return refuse(r, 'method_not_allowed');
    }
    if (path.name === null) {
        return refuse(r, 'invalid_token');  // a name that is no UTF-8 names no file
    }
    var now = Date.now() / 1000;
    var claims = verify(token, path.name, now);
    if (claims.refusal === 'expired_token') {
        return refuse(r, 'expired_token', undefined,
                      {expiredAt: iso(claims.expiresAt), serverTime: iso(now)});
    }
    if (claims.refusal !== undefined) {
        return refuse(r, claims.refusal);
    }
    r.variables.files_kid = claims.kid;  // a key of the ring, as files_token_verifications
    if (!IDS.test(claims.fileId) || !IDS.test(claims.principalId)) {
        return refuse(r, 'invalid_token');
    }
    // A callback rather than the promise r.subrequest() returns without one: the promise's
    // machinery costs about 4% of a cached download's CPU in njs 0.7.
    r.subrequest(S.lookupPrefix + claims.fileId + '/' + claims.principalId, function (reply) {
        try {
            looked(r, method, claims, reply);
        } catch (e) {
            failed(r, e);
        }
    });
}

function refuseHidden(r) {
    r.variables.files_tier = 'edge';
    r.variables.files_note = 'internal-only';
    answerRoute(r, 404);
}

function looked(r, method, claims, reply) {
    r.variables.files_lookup = reply.status + '/' + (reply.variables.upstream_cache_status || '-');
    if (reply.status !== 200) {
        var unavailable = 'registry_unavailable';
        if (reply.status === 503 && String(reply.responseText).indexOf('"storage_unavailable"') >= 0) {
            unavailable = 'storage_unavailable';
        }
        return refuse(r, unavailable);
    }
    var info = JSON.parse(reply.responseText);
    if (info.principal !== 'active') {
        return refuse(r, 'revoked_token');
    }
    var file = info.file;
    if (!file) {
        return refuse(r, 'not_found');
    }
    respond(r, method, claims, file);
}

function respond(r, method, claims, file) {
    var h = {
        range: header(r, 'Range'),
        ifRange: header(r, 'If-Range'),
        ifNoneMatch: header(r, 'If-None-Match'),
        ifModifiedSince: header(r, 'If-Modified-Since'),
    };
    var names = Object.keys(h);
    for (var i = 0; i < names.length; i++) {
        if (h[names[i]] !== undefined && !PRINTABLE.test(h[names[i]])) {
            return toService(r, 'header');
        }
    }
    var tag = file.etag.slice(1, -1);
    var decision = evaluate(method, file.size, tag, file.modified, h);
    if (decision === FALLBACK) {
        return toService(r, 'date');
    }
    var now = Date.now() / 1000;
    var cc = cacheControl(claims.expiresAt, now);
    var validators = [
        ['ETag', file.etag],
        ['Last-Modified', file.lastModified],
        ['Cache-Control', cc],
    ];
    r.variables.files_tier = 'edge';
    if (decision.status === 304) {
        setHeaders(r, validators);
        setHeaders(r, S.common);
        r.status = 304;
        r.sendHeader();
        r.finish();
        return;
    }
    if (decision.status === 416) {
        return refuse(r, 'range_not_satisfiable', [['Content-Range', decision.contentRange]]);
    }
    var disposition = file.disposition[claims.disposition];
    var length = decision.end - decision.start + 1;
    if (method === 'HEAD' || length === 0) {
        r.headersOut['Content-Type'] = file.contentType;
        r.headersOut['Accept-Ranges'] = 'bytes';
        r.headersOut['Content-Disposition'] = disposition;
        setHeaders(r, validators);
        setHeaders(r, S.common);
        r.headersOut['Content-Length'] = String(length);
        if (decision.contentRange) {
            r.headersOut['Content-Range'] = decision.contentRange;
        }
        r.status = decision.status;
        r.sendHeader();
        r.finish();
        return;
    }
    var storage = file.storage;
    if (storage.path === undefined && storage.uri === undefined) {
        return refuse(r, 'not_found');  // registered, but its object is not where it belongs
    }
    // The bytes' location adds these (add_header), so that none of them can reach an error
    // page nginx makes there instead.
    r.variables.files_etag = file.etag;
    r.variables.files_last_modified = file.lastModified;
    r.variables.files_cache_control = cc;
    r.variables.files_disposition = disposition;
    r.headersOut['Content-Type'] = file.contentType;
    if (storage.uri !== undefined) {
        r.variables.files_s3_uri = storage.uri;
        r.variables.files_range = decision.status === 206
            ? 'bytes=' + decision.start + '-' + decision.end : '';
        return r.internalRedirect(S.locations.s3);
    }
    // nginx's static module reads the client's own headers: where it would judge them
    // otherwise than evaluate() (If-Match and If-Unmodified-Since are not offered by
    // downloads and would get a 412; a Range spelt unusually), the service answers.
    if (r.headersIn['If-Match'] !== undefined || r.headersIn['If-Unmodified-Since'] !== undefined) {
        return toService(r, 'precondition');
    }
    // nginx trims spaces around If-Range but not tabs, and would then send the whole file.
    if (decision.status === 206
        && (!CANONICAL_RANGE.test(h.range) || (h.ifRange && h.ifRange.indexOf('\t') >= 0))) {
        return toService(r, 'range');
    }
    r.variables.files_path = storage.path;
    return r.internalRedirect(decision.status === 206 ? S.locations.part : S.locations.whole);
}

/* After nginx failed to read the bytes: the object is missing (404), or storage failed. */
function objectMissing(r) {
    refuse(r, 'not_found');
}

function storageFailed(r) {
    refuse(r, 'storage_unavailable');
}

/* An upstream (the service) that is down or too slow: the JSON a client of the service
 * would get, never nginx's HTML page. */
function serviceUnavailable(r) {
    r.variables.files_note = 'service-unavailable';
    var unavailable = rare().refusals.registry_unavailable;
    r.headersOut['Content-Type'] = rare().errorContentType;
    r.headersOut['Cache-Control'] = 'no-store';
    setHeaders(r, unavailable.headers);
    r.return(503, unavailable.body);
}

/* S3's answer, stripped of every header but the length and range of the bytes (its own
 * validators, type, metadata and request ids are not the service's answer). */
function storageHeaders(r) {
    var names = Object.keys(r.headersOut);
    for (var i = 0; i < names.length; i++) {
        var lower = names[i].toLowerCase();
        if (S.storageHeadersKept.indexOf(lower) < 0) {
            delete r.headersOut[names[i]];
        }
    }
}

export default {
    download: download,
    objectMissing: objectMissing,
    storageFailed: storageFailed,
    serviceUnavailable: serviceUnavailable,
    routeError: routeError,
    storageHeaders: storageHeaders,
    // Pure functions, exported for the differential tests (tests/edge/test_njs_logic.py).
    verify: verify,
    evaluate: evaluate,
    cacheControl: cacheControl,
    preflightHeaders: preflightHeaders,
    queryToken: queryToken,
    unquoteBytes: unquoteBytes,
    FALLBACK: FALLBACK,
};
