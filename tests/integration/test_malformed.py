"""Malformed and hostile requests, table-driven: each raw request goes to a running shoal on a
fresh connection, and the answer must be one the RFCs (9110, 9112) allow.

An expectation is a set of statuses, where CLOSE stands for "the connection closes without a
response". Flags:
  PIPELINE  a normal request follows the case in the same write; if the connection stays
            open it must be answered next, intact (a body was framed as the client meant it);
  SMUGGLE   the case's framing (its head or its body) is malformed or refused: a normal
            request follows it, and it must never be answered, because the server cannot know
            where the case ends;
  KEEP      an error that leaves the framing intact (a bad path): the connection may stay open;
  FRAMING   one of the framing rules of issue 12 (RFC 9112 2.2, 3.2, 5.1, 5.2, 6.1, 6.3, 7.1 and
            RFC 9110 5.5): also SMUGGLE, with one exact status, 400 or 501. FRAMING_CASES lists
            them for scripts/framing-vs-nginx.
Any other error status must be followed by the server closing the connection. After every case
the server must still answer a normal request on a new connection, and no response may carry a
file from outside the root.
"""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, HarnessError  # noqa: E402

CLOSE = "close"
PIPELINE, SMUGGLE, KEEP, FRAMING = "pipeline", "smuggle", "keep", "framing"

MAX_HEADER_SIZE = 1024  # the smallest the config allows: limits are cheap to reach
MAX_BODY_SIZE = 64

NORMAL = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
H = b"Host: 127.0.0.1\r\n"


def get(headers=b"", target=b"/", method=b"GET", version=b"HTTP/1.1", host=H, body=b""):
    """A request with the given raw header lines (each ending in CRLF) and raw body."""
    return b"%s %s %s\r\n%s%s\r\n%s" % (method, target, version, host, headers, body)


def case(name, raw, expect, *flags):
    expect = set(expect) if isinstance(expect, (set, tuple, list)) else {expect}
    return {"name": name, "raw": raw, "expect": expect, "flags": set(flags)}


CHUNKED = b"Transfer-Encoding: chunked\r\n"
VALID_CHUNKED_BODY = b"5\r\nhello\r\n0\r\n\r\n"
# What a server that reads a body it should not have framed might take for a request.
SMUGGLED_BODY = b"GET /smuggled HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
TRAVERSAL = {400, 403, 404}


def bad_chunked(name, body, *flags, expect=400):
    """A GET with a chunked body broken in the write that carries its head: the answer it
    would have had gives way to the error."""
    return case(name, get(CHUNKED, body=body), expect, SMUGGLE, *flags)


SMUGGLING = [
    case("CL and TE", get(b"Content-Length: 3\r\n" + CHUNKED, body=VALID_CHUNKED_BODY),
         400, SMUGGLE, FRAMING),
    case("TE and CL", get(CHUNKED + b"Content-Length: 3\r\n", body=VALID_CHUNKED_BODY),
         400, SMUGGLE, FRAMING),
    case("TE and CL 0", get(CHUNKED + b"Content-Length: 0\r\n", body=VALID_CHUNKED_BODY),
         400, SMUGGLE),
    case("CL differing twice", get(b"Content-Length: 5\r\nContent-Length: 6\r\n",
                                   body=b"hello!"), 400, SMUGGLE, FRAMING),
    case("CL differing in a list", get(b"Content-Length: 5, 6\r\n", body=b"hello!"),
         400, SMUGGLE),
    # RFC 9110 8.6 would allow merging identical values; a proxy must not have to guess.
    case("CL same twice", get(b"Content-Length: 5\r\ncontent-length: 5\r\n", body=b"hello"),
         400, SMUGGLE, FRAMING),
    case("CL same in a list", get(b"Content-Length: 5, 5\r\n", body=b"hello"), 400, SMUGGLE),
    case("CL with trailing empty element", get(b"Content-Length: 5,\r\n", body=b"hello"),
         400, SMUGGLE),
    case("CL plus sign", get(b"Content-Length: +5\r\n", body=b"hello"), 400, SMUGGLE, FRAMING),
    case("CL negative", get(b"Content-Length: -1\r\n", body=b"hello"), 400, SMUGGLE),
    case("CL hex", get(b"Content-Length: 0x5\r\n", body=b"hello"), 400, SMUGGLE, FRAMING),
    case("CL underscore", get(b"Content-Length: 1_0\r\n", body=b"x" * 10), 400, SMUGGLE,
         FRAMING),
    case("CL decimal point", get(b"Content-Length: 5.0\r\n", body=b"hello"), 400, SMUGGLE),
    case("CL exponent", get(b"Content-Length: 5e0\r\n", body=b"hello"), 400, SMUGGLE),
    case("CL space inside", get(b"Content-Length: 1 2\r\n", body=b"x" * 12), 400, SMUGGLE,
         FRAMING),
    case("CL empty", get(b"Content-Length:\r\n", body=b"hello"), 400, SMUGGLE, FRAMING),
    case("CL overflowing uint64", get(b"Content-Length: 18446744073709551616\r\n"),
         400, SMUGGLE, FRAMING),
    case("CL far beyond uint64", get(b"Content-Length: " + b"9" * 40 + b"\r\n"), 400, SMUGGLE),
    case("CL max uint64", get(b"Content-Length: 18446744073709551615\r\n"), 413, SMUGGLE),
    case("CL above max_body_size", get(b"Content-Length: %d\r\n" % (MAX_BODY_SIZE + 1),
                                       body=b"x" * (MAX_BODY_SIZE + 1)), 413, SMUGGLE),
    case("CL at max_body_size", get(b"Content-Length: %d\r\n" % MAX_BODY_SIZE,
                                    body=b"x" * MAX_BODY_SIZE), 200, PIPELINE),
    case("CL with OWS around", get(b"Content-Length: \t5 \r\n", body=b"hello"), 200, PIPELINE),
    case("CL leading zeros", get(b"Content-Length: 005\r\n", body=b"hello"), 200, PIPELINE),
    case("CL with a request-looking body", get(b"Content-Length: %d\r\n" % len(SMUGGLED_BODY),
                                               body=SMUGGLED_BODY), 200, PIPELINE),
    case("POST with CL body", get(b"Content-Length: 5\r\n", method=b"POST", body=b"hello"),
         405, PIPELINE),
    case("TE chunked", get(CHUNKED, body=VALID_CHUNKED_BODY), 200, PIPELINE),
    case("TE chunked uppercase", get(b"Transfer-Encoding: CHUNKED\r\n", body=VALID_CHUNKED_BODY),
         200, PIPELINE),
    case("TE chunked with OWS", get(b"Transfer-Encoding:  chunked \r\n", body=VALID_CHUNKED_BODY),
         200, PIPELINE),
    case("TE chunked, extensions and trailer",
         get(CHUNKED, body=b"5;a=b ; c=\"d\\\"e\"\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"), 200, PIPELINE),
    case("TE chunked, request-looking data",
         get(CHUNKED, body=b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED_BODY), SMUGGLED_BODY)),
         200, PIPELINE),
    case("TE gzip, chunked", get(b"Transfer-Encoding: gzip, chunked\r\n", body=VALID_CHUNKED_BODY),
         501, SMUGGLE, FRAMING),
    case("TE gzip then chunked lines",
         get(b"Transfer-Encoding: gzip\r\n" + CHUNKED, body=VALID_CHUNKED_BODY), 501, SMUGGLE),
    case("TE chunked, gzip", get(b"Transfer-Encoding: chunked, gzip\r\n", body=VALID_CHUNKED_BODY),
         400, SMUGGLE),
    case("TE chunked then gzip lines",
         get(CHUNKED + b"Transfer-Encoding: gzip\r\n", body=VALID_CHUNKED_BODY), 400, SMUGGLE),
    case("TE gzip only", get(b"Transfer-Encoding: gzip\r\n", body=VALID_CHUNKED_BODY), 400,
         SMUGGLE),
    case("TE identity", get(b"Transfer-Encoding: identity\r\n", body=VALID_CHUNKED_BODY), 400,
         SMUGGLE),
    case("TE xchunked", get(b"Transfer-Encoding: xchunked\r\n", body=VALID_CHUNKED_BODY), 400,
         SMUGGLE, FRAMING),
    case("TE chunkedx", get(b"Transfer-Encoding: chunkedx\r\n", body=VALID_CHUNKED_BODY), 400,
         SMUGGLE),
    case("TE quoted", get(b"Transfer-Encoding: \"chunked\"\r\n", body=VALID_CHUNKED_BODY), 400,
         SMUGGLE),
    case("TE chunked, chunked", get(b"Transfer-Encoding: chunked, chunked\r\n",
                                    body=VALID_CHUNKED_BODY), 400, SMUGGLE),
    case("TE chunked twice", get(CHUNKED + CHUNKED, body=VALID_CHUNKED_BODY), 400, SMUGGLE,
         FRAMING),
    case("TE chunked, identity", get(b"Transfer-Encoding: chunked, identity\r\n",
                                     body=VALID_CHUNKED_BODY), 400, SMUGGLE, FRAMING),
    case("TE leading comma", get(b"Transfer-Encoding: , chunked\r\n", body=VALID_CHUNKED_BODY),
         400, SMUGGLE, FRAMING),
    case("TE chunked with parameter", get(b"Transfer-Encoding: chunked;a=b\r\n",
                                          body=VALID_CHUNKED_BODY), 400, SMUGGLE, FRAMING),
    case("TE empty", get(b"Transfer-Encoding:\r\n", body=VALID_CHUNKED_BODY), 400, SMUGGLE),
    case("TE vertical tab", get(b"Transfer-Encoding: \x0bchunked\r\n", body=VALID_CHUNKED_BODY),
         400, SMUGGLE),
    case("TE space before colon", get(b"Transfer-Encoding : chunked\r\n",
                                      body=VALID_CHUNKED_BODY), 400, SMUGGLE, FRAMING),
    case("TE folded", get(b"Transfer-Encoding:\r\n chunked\r\n", body=VALID_CHUNKED_BODY),
         400, SMUGGLE, FRAMING),
    case("TE in HTTP/1.0", get(CHUNKED, version=b"HTTP/1.0", body=VALID_CHUNKED_BODY),
         400, SMUGGLE, FRAMING),
    case("TE and CL in HTTP/1.0",
         get(CHUNKED + b"Content-Length: 15\r\n", version=b"HTTP/1.0", body=VALID_CHUNKED_BODY),
         400, SMUGGLE),
    bad_chunked("chunk size not hex", b"g\r\nx\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk size negative", b"-5\r\nhello\r\n0\r\n\r\n"),
    # A lenient parser that reads these as a last chunk takes "hello..." for the next request.
    bad_chunked("chunk size -0", b"-0\r\nhello\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk size space then 0", b" 0\r\nhello\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk size 0x prefix", b"0x5\r\nhello\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk size overflowing", b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n",
                FRAMING),
    bad_chunked("chunk size empty", b"\r\nhello\r\n0\r\n\r\n"),
    bad_chunked("chunk size leading space", b" 5\r\nhello\r\n0\r\n\r\n"),
    bad_chunked("chunk size trailing space", b"5 \r\nhello\r\n0\r\n\r\n"),
    bad_chunked("chunk size CR CR", b"2\r\r;a\r\nab\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk ext without name", b"5;\r\nhello\r\n0\r\n\r\n"),
    bad_chunked("chunk ext unterminated quote", b"5;a=\"b\r\nhello\r\n0\r\n\r\n"),
    bad_chunked("chunk ext with control byte", b"5;a=\x01\r\nhello\r\n0\r\n\r\n"),
    bad_chunked("chunk ext bare LF", b"5;a=b\nhello\r\n0\r\n\r\n", FRAMING),
    # Longer than the input buffer: the answer goes out before the line is found too long,
    # and the 400 follows it.
    bad_chunked("chunk line oversized", b"5;a=" + b"b" * 5000 + b"\r\nhello\r\n0\r\n\r\n",
                expect=200),
    bad_chunked("chunk line bare LF", b"5\nhello\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk line bare CR", b"5\rhello\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk data bare LF", b"5\r\nhello\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk data longer than size", b"3\r\nhello\r\n0\r\n\r\n", FRAMING),
    bad_chunked("chunk data without CRLF", b"5\r\nhelloX0\r\n\r\n"),
    bad_chunked("last chunk bare LF", b"5\r\nhello\r\n0\r\n\n", FRAMING),
    bad_chunked("trailer without colon", b"0\r\nbad trailer\r\n\r\n"),
    bad_chunked("trailer with bare LF", b"0\r\nX: 1\n\r\n", FRAMING),
    bad_chunked("chunked body above max_body_size",
                b"%x\r\n%s\r\n0\r\n\r\n" % (MAX_BODY_SIZE * 2, b"x" * (MAX_BODY_SIZE * 2)),
                expect=413),
]

HEADER_SYNTAX = [
    case("space before colon", get(b"X-A : 1\r\n"), 400),
    case("tab before colon", get(b"X-A\t: 1\r\n"), 400),
    case("Host with space before colon", get(host=b"Host : 127.0.0.1\r\n"), 400),
    # RFC 9112 5.2: reject obs-fold, or replace it with SP; shoal rejects.
    case("obs-fold", get(b"X-A: 1\r\n 2\r\n"), 400, SMUGGLE, FRAMING),
    case("obs-fold with tab", get(b"X-A: 1\r\n\t2\r\n"), 400, SMUGGLE),
    # RFC 9112 2.2: whitespace before the first field line: reject, or skip that line.
    case("whitespace before first field", b"GET / HTTP/1.1\r\n X-A: 1\r\n" + H + b"\r\n",
         400, SMUGGLE, FRAMING),
    case("folded Host first", b"GET / HTTP/1.1\r\n Host: 127.0.0.1\r\n\r\n", 400, SMUGGLE),
    # RFC 9112 2.2 and RFC 9110 5.5: bare CR or NUL in a value: reject, or replace with SP.
    case("bare CR in value", get(b"X-A: 1\r2\r\n"), 400, SMUGGLE, FRAMING),
    case("bare CR ending a line", get(b"X-A: 1\r\r\n"), 400, SMUGGLE, FRAMING),
    case("NUL in value", get(b"X-A: 1\x002\r\n"), 400, SMUGGLE, FRAMING),
    case("NUL in name", get(b"X-\x00A: 1\r\n"), 400, SMUGGLE, FRAMING),
    case("control byte in value", get(b"X-A: 1\x012\r\n"), 400),
    case("escape byte in value", get(b"X-A: \x1b[31m\r\n"), 400),
    case("DEL in value", get(b"X-A: 1\x7f\r\n"), 400),
    case("control byte in name", get(b"X-\x01A: 1\r\n"), 400, SMUGGLE, FRAMING),
    case("obs-text in value", get(b"X-A: caf\xc3\xa9\r\n"), 200, PIPELINE),
    case("tab in value", get(b"X-A: 1\t2\r\n"), 200, PIPELINE),
    case("empty value", get(b"X-A:\r\n"), 200, PIPELINE),
    case("empty name", get(b": 1\r\n"), 400),
    case("name with space", get(b"X A: 1\r\n"), 400),
    case("name with parenthesis", get(b"X(A): 1\r\n"), 400),
    case("name with at sign", get(b"X@A: 1\r\n"), 400),
    case("name with slash", get(b"X/A: 1\r\n"), 400),
    case("name with quote", get(b"X\"A: 1\r\n"), 400),
    case("name with obs-text", get(b"X\xc3\xa9: 1\r\n"), 400, SMUGGLE, FRAMING),
    case("line without colon", get(b"X-A 1\r\n"), 400, SMUGGLE, FRAMING),
    case("colon only", get(b":\r\n"), 400),
    # RFC 9112 2.2: a recipient MAY take a bare LF as a line terminator; shoal does not.
    case("bare LF line ends", b"GET / HTTP/1.1\nHost: 127.0.0.1\n\n", 400, SMUGGLE, FRAMING),
    case("bare LF after a header", get(b"X-A: 1\nX-B: 2\r\n"), 400, SMUGGLE, FRAMING),
    case("bare LF ending the head", b"GET / HTTP/1.1\r\n" + H + b"\n", 400, SMUGGLE, FRAMING),
    case("LF CR instead of CRLF", get(b"X-A: 1\n\r"), 400, SMUGGLE, FRAMING),
]

REQUEST_LINE = [
    case("origin-form with query", get(target=b"/index.html?a=1&b"), 200, PIPELINE),
    case("empty line before request", b"\r\n" + NORMAL, 200, PIPELINE),
    case("absolute-form", get(target=b"http://127.0.0.1/index.html"), 200, PIPELINE),
    case("absolute-form, other Host", get(target=b"http://127.0.0.1/index.html",
                                          host=b"Host: elsewhere.example\r\n"), 200, PIPELINE),
    case("absolute-form uppercase scheme", get(target=b"HTTP://127.0.0.1/"), 200, PIPELINE),
    case("absolute-form https", get(target=b"https://127.0.0.1/"), {200, 400, 421}),
    case("absolute-form ftp", get(target=b"ftp://127.0.0.1/"), 400),
    case("absolute-form with userinfo", get(target=b"http://u@127.0.0.1/"), 400),
    case("absolute-form without host", get(target=b"http:///index.html"), 400),
    case("OPTIONS asterisk-form", get(target=b"*", method=b"OPTIONS"), 200, PIPELINE),
    case("GET asterisk-form", get(target=b"*"), 400),
    case("HEAD asterisk-form", get(target=b"*", method=b"HEAD"), 400),
    case("OPTIONS origin-form", get(method=b"OPTIONS"), 200, PIPELINE),
    case("CONNECT authority-form", get(target=b"127.0.0.1:443", method=b"CONNECT"),
         {405, 501}),
    case("CONNECT origin-form", get(target=b"/", method=b"CONNECT"), 400),
    case("CONNECT without port", get(target=b"127.0.0.1", method=b"CONNECT"), 400),
    case("GET authority-form", get(target=b"127.0.0.1:80"), 400),
    case("POST", get(method=b"POST"), 405, PIPELINE),
    case("DELETE", get(method=b"DELETE"), 405, PIPELINE),
    # RFC 9110 9.1: a method the server does not recognise or implement is 501.
    case("lowercase method", get(method=b"get"), 501),
    case("unknown method", get(method=b"FOO"), 501),
    case("WebDAV method", get(method=b"PROPFIND"), 501),
    case("method with bad byte", get(method=b"GE@T"), 400),
    # RFC 9110 2.5: a higher minor version of a known major version is HTTP/1.1.
    case("HTTP/1.2", get(version=b"HTTP/1.2"), 200),
    case("HTTP/1.9", get(version=b"HTTP/1.9"), 200),
    case("HTTP/2.0", get(version=b"HTTP/2.0"), 505),
    case("HTTP/3.0", get(version=b"HTTP/3.0"), 505),
    case("HTTP/0.9", get(version=b"HTTP/0.9", host=b""), {400, 505}),
    case("HTTP/1.10", get(version=b"HTTP/1.10"), 400),
    case("HTTP/01.1", get(version=b"HTTP/01.1"), 400),
    case("HTTP/1", get(version=b"HTTP/1"), 400),
    case("HTTP/2", get(version=b"HTTP/2"), 400),
    case("lowercase http/1.1", get(version=b"http/1.1"), 400),
    case("HTTPS/1.1", get(version=b"HTTPS/1.1"), 400),
    case("version with trailing space", get(version=b"HTTP/1.1 "), 400),
    case("no version (HTTP/0.9 simple request)", b"GET /\r\n\r\n", {400, CLOSE}),
    case("missing target", get(target=b""), 400),
    case("missing target and space", b"GET HTTP/1.1\r\n" + H + b"\r\n", 400),
    # RFC 9112 3: a strict parser rejects; a lenient one may split on any whitespace.
    case("double space before target", get(target=b" /"), {400, 200}),
    case("double space after target", get(target=b"/ "), {400, 200}),
    case("tab separators", b"GET\t/\tHTTP/1.1\r\n" + H + b"\r\n", {400, 200}),
    case("leading space", b" " + NORMAL, 400),
    case("space in target", get(target=b"/a b"), 400),
    case("control byte in target", get(target=b"/a\x01b"), 400),
    case("DEL in target", get(target=b"/a\x7fb"), 400),
    case("obs-text in target", get(target=b"/caf\xc3\xa9"), 400),
    case("relative target", get(target=b"index.html"), 400),
    case("fragment in target", get(target=b"/index.html#top"), {400, 404}, KEEP),
]

HOST = [
    case("Host missing on HTTP/1.1", get(host=b""), 400, SMUGGLE, FRAMING),
    case("Host missing on HTTP/1.0", get(version=b"HTTP/1.0", host=b""), 200),
    case("Host present on HTTP/1.0", get(version=b"HTTP/1.0"), 200),
    case("Host twice, same", get(H), 400, SMUGGLE, FRAMING),
    case("Host twice, different", get(b"Host: other.example\r\n"), 400, SMUGGLE, FRAMING),
    case("Host twice on HTTP/1.0", get(H, version=b"HTTP/1.0"), 400),
    case("Host list", get(host=b"Host: 127.0.0.1, other.example\r\n"), 400),
    case("Host with userinfo", get(host=b"Host: user@127.0.0.1\r\n"), 400),
    case("Host with user:pass", get(host=b"Host: user:pass@127.0.0.1\r\n"), 400),
    case("Host empty", get(host=b"Host:\r\n"), 400),
    case("Host with port", get(host=b"Host: 127.0.0.1:8080\r\n"), 200, PIPELINE),
    case("Host with empty port", get(host=b"Host: 127.0.0.1:\r\n"), 200, PIPELINE),
    case("Host with bad port", get(host=b"Host: 127.0.0.1:80a\r\n"), 400),
    case("Host IPv6 literal", get(host=b"Host: [::1]\r\n"), 200, PIPELINE),
    case("Host IPv6 literal with port", get(host=b"Host: [::1]:8080\r\n"), 200, PIPELINE),
    case("Host IPv6 unterminated", get(host=b"Host: [::1\r\n"), 400),
    case("Host IPv6 unbracketed", get(host=b"Host: ::1\r\n"), 400),
    case("Host with path", get(host=b"Host: 127.0.0.1/x\r\n"), 400),
    case("Host with space", get(host=b"Host: 127.0.0.1 x\r\n"), 400, SMUGGLE, FRAMING),
    case("Host with NUL", get(host=b"Host: 127.0.0.1\x00x\r\n"), 400, SMUGGLE, FRAMING),
    case("Host with trailing OWS", get(host=b"Host: 127.0.0.1 \t\r\n"), 200, PIPELINE),
]

LIMITS = [
    case("request line too long", get(target=b"/" + b"a" * (MAX_HEADER_SIZE + 100)), 414),
    case("request line far too long", get(target=b"/" + b"a" * (4 * MAX_HEADER_SIZE)), 414),
    case("request line too long, unfinished", b"GET /" + b"a" * (2 * MAX_HEADER_SIZE), 414),
    case("one header too large", get(b"X-A: " + b"v" * (MAX_HEADER_SIZE + 100) + b"\r\n"), 431),
    case("headers too large together", get(b"".join(b"X-%d: %s\r\n" % (i, b"v" * 90)
                                                     for i in range(12))), 431),
    case("head too large, unfinished", get(b"X-A: " + b"v" * (2 * MAX_HEADER_SIZE))[:-4], 431),
    case("too many headers", get(b"a:\r\n" * 130), 431),
    case("many headers within limits", get(b"a:\r\n" * 60), 200, PIPELINE),
    case("long request line within limits", get(target=b"/index.html?" + b"q" * 900), 200,
         PIPELINE),
]

PATHS = [
    case("dot segments inside root", get(target=b"/dir/./../index.html"), 200, PIPELINE),
    case("dotdot above root", get(target=b"/../secret.txt"), TRAVERSAL, KEEP),
    case("dotdot deep", get(target=b"/dir/../../secret.txt"), TRAVERSAL, KEEP),
    case("encoded dotdot", get(target=b"/%2e%2e/secret.txt"), TRAVERSAL, KEEP),
    case("encoded dotdot uppercase", get(target=b"/%2E%2E/secret.txt"), TRAVERSAL, KEEP),
    case("half-encoded dotdot", get(target=b"/.%2e/secret.txt"), TRAVERSAL, KEEP),
    case("encoded dotdot and slash", get(target=b"/%2e%2e%2fsecret.txt"), TRAVERSAL, KEEP),
    case("dotdot with encoded slash", get(target=b"/dir/..%2f..%2fsecret.txt"), TRAVERSAL, KEEP),
    # RFC 3986 6.2.2.2: %2F is not "/"; no file name holds a "/", so nothing matches.
    case("encoded slash", get(target=b"/dir%2findex.html"), TRAVERSAL, KEEP),
    case("double-encoded dotdot", get(target=b"/%252e%252e/secret.txt"), TRAVERSAL, KEEP),
    case("double-encoded slash", get(target=b"/dir%252findex.html"), TRAVERSAL, KEEP),
    case("encoded NUL", get(target=b"/index.html%00"), {400, 404}, KEEP),
    case("encoded NUL before extension", get(target=b"/index.html%00.txt"), {400, 404}, KEEP),
    case("encoded control byte", get(target=b"/index%0a.html"), {400, 404}, KEEP),
    case("bad escape", get(target=b"/index%zz.html"), 400, KEEP),
    case("truncated escape", get(target=b"/index.html%2"), 400, KEEP),
    case("backslash dotdot", get(target=b"/..\\secret.txt"), TRAVERSAL, KEEP),
    case("encoded backslash dotdot", get(target=b"/%5c..%5csecret.txt"), TRAVERSAL, KEEP),
    case("backslash as separator", get(target=b"/dir\\index.html"), TRAVERSAL, KEEP),
    case("overlong UTF-8 dots", get(target=b"/%c0%ae%c0%ae/secret.txt"), TRAVERSAL, KEEP),
    case("absolute-form dotdot", get(target=b"http://127.0.0.1/../secret.txt"), TRAVERSAL, KEEP),
    case("HEAD dotdot", get(target=b"/../secret.txt", method=b"HEAD"), TRAVERSAL, KEEP),
]

ALL_TABLES = [SMUGGLING, HEADER_SYNTAX, REQUEST_LINE, HOST, LIMITS, PATHS]
FRAMING_CASES = [cs for table in ALL_TABLES for cs in table if FRAMING in cs["flags"]]


# Each read is bounded; a server that hangs on one case is restarted so that the others still
# say something, and the whole file stays within its time budget even then.
READ_TIMEOUT = 4.0
BUDGET = 50.0


class MalformedTest(unittest.TestCase):
    cases_run = 0
    server = None

    @classmethod
    def start_server(cls):
        # One worker: a case that wedges it shows up in the very next check.
        cls.server = harness.Server(workers=1, max_header_size=MAX_HEADER_SIZE,
                                    max_body_size=MAX_BODY_SIZE, header_timeout=3)

    @classmethod
    def setUpClass(cls):
        cls.deadline = time.monotonic() + BUDGET
        cls.start_server()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        total = sum(len(t) for t in ALL_TABLES)
        print("\nmalformed: %d cases run of %d in the table" % (cls.cases_run, total))

    def run_case(self, cs):
        pipelined = PIPELINE in cs["flags"] or SMUGGLE in cs["flags"]
        raw = cs["raw"] + (NORMAL if pipelined else b"")
        head_request = raw.startswith(b"HEAD ")
        try:
            with Client(self.server.port, timeout=READ_TIMEOUT) as c:
                r = self.read_first(c, raw, head_request)
                status = r if r == CLOSE else r.status
                self.assertIn(status, cs["expect"],
                              "got %r, expected one of %r" % (r, cs["expect"]))
                if r != CLOSE:
                    self.assertNotIn(harness.SECRET_BODY, r.body)
                    self.check_after(c, cs, r, head_request)
        finally:
            self.assert_still_serving()

    def read_first(self, c, raw, head_request):
        try:
            c.send(raw)
        except OSError:
            pass  # the server refused early; what it answered is still to be read
        try:
            return c.read_response(head_request=head_request)
        except HarnessError:
            if not c.buf and c.eof:
                return CLOSE
            raise

    def check_after(self, c, cs, r, head_request):
        """What may follow the first response on the same connection."""
        closing = (r.header("Connection", "").lower() == "close"
                   or r.version == "HTTP/1.0" or r.status in (413, 414, 431, 501, 505)
                   or (r.status == 400 and KEEP not in cs["flags"]))
        if head_request and closing:
            # A request refused before its method counted may get an error page: skip it.
            c.buf = c.buf[int(r.header("Content-Length", "0")):]
        if SMUGGLE in cs["flags"]:
            self.assert_no_answer_behind(c, r)
        elif closing:
            self.assertEqual(r.header("Connection", "").lower(), "close", r)
            self.assertTrue(c.closed_by_peer(), "connection left open after %r" % r)
        elif PIPELINE in cs["flags"]:
            second = c.read_response()
            self.assertEqual(second.status, 200, "pipelined request after %r" % r)
            self.assertEqual(second.body, harness.INDEX_BODY)

    def assert_no_answer_behind(self, c, r):
        """After a body that had to be refused, the request written behind it is never
        answered: the connection closes, at most after a 400 or 413 of its own for a body
        found broken (or too large) once r had gone out."""
        late = self.read_first(c, b"", False)
        if late != CLOSE:
            self.assertIn(late.status, (400, 413), "after %r, the request that followed a "
                          "body that had to be refused was answered: %r" % (r, late))
            self.assertEqual(late.header("Connection", "").lower(), "close", late)
        self.assertTrue(late == CLOSE or c.closed_by_peer(), "after %r, the connection "
                        "stayed open" % r)

    def assert_still_serving(self):
        try:
            r = self.server.request("GET", "/index.html", timeout=READ_TIMEOUT)
            ok = r.status == 200 and r.body == harness.INDEX_BODY
        except (HarnessError, OSError) as e:
            r, ok = e, False
        if not ok:
            type(self).server.close()
            type(self).start_server()
            self.fail("the server stopped answering after this case (%r); restarted it" % r)

    def run_table(self, table):
        for cs in table:
            with self.subTest(cs["name"]):
                if time.monotonic() > self.deadline:
                    self.fail("not run: the file's %d s budget is spent" % BUDGET)
                type(self).cases_run += 1
                self.run_case(cs)

    def test_framing_cases_are_exact(self):
        """Each framing rule of issue 12 gets one status, and the request behind is checked."""
        self.assertTrue(FRAMING_CASES)
        for cs in FRAMING_CASES:
            with self.subTest(cs["name"]):
                self.assertIn(SMUGGLE, cs["flags"])
                self.assertEqual(len(cs["expect"]), 1)
                self.assertIn(next(iter(cs["expect"])), (400, 501))

    def test_smuggling(self):
        self.run_table(SMUGGLING)

    def test_header_syntax(self):
        self.run_table(HEADER_SYNTAX)

    def test_request_line(self):
        self.run_table(REQUEST_LINE)

    def test_host(self):
        self.run_table(HOST)

    def test_limits(self):
        self.run_table(LIMITS)

    def test_paths(self):
        self.run_table(PATHS)


if __name__ == "__main__":
    harness.main()
