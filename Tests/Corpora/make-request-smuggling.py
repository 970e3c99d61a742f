#!/usr/bin/env python3
"""Writes request-smuggling.tsv: request shapes a client may send, each with the verdict Sluice must reach.

Sources of the shapes: the framing rules of RFC 9112 (sections 2, 5, 6 and 7), the families of
obfuscation that request-smuggling research publishes (Transfer-Encoding hidden by whitespace, case,
control bytes, duplicates, lists and folding; Content-Length variants; chunk-size tricks; bare CR and
LF line endings), and the smuggling shape of issue 12. The shapes are written here from those rules;
the verdicts come from the rules, not from running Sluice.

A verdict is `reject STATUS` (the proxy answers STATUS and closes, the upstream sees nothing), or
`forward PATH:BODYBYTES ...` (the upstream sees exactly these requests in order, each with this many
body bytes), optionally followed by `then reject STATUS` for a bad request pipelined after good ones.
Run: python3 Tests/Corpora/make-request-smuggling.py > Tests/Corpora/request-smuggling.tsv
"""

rows = []


def add(name, raw, verdict):
    assert "\t" not in name
    rows.append((name, verdict, raw))


H = "Host: x\r\n"


def post(fields, body, path="/a"):
    return f"POST {path} HTTP/1.1\r\n{H}{fields}\r\n{body}"


CHUNKED_BODY = "5\r\nhello\r\n0\r\n\r\n"

# --- Transfer-Encoding spelled so that some parser reads it and another does not ---------------
te_hidden = {
    "space before colon": "Transfer-Encoding : chunked\r\n",
    "tab before colon": "Transfer-Encoding\t: chunked\r\n",
    "leading space (folded onto the host line)": " Transfer-Encoding: chunked\r\n",
    "obs-fold of the value": "Transfer-Encoding:\r\n chunked\r\n",
    "obs-fold with tab": "Transfer-Encoding:\r\n\tchunked\r\n",
    "vertical tab before value": "Transfer-Encoding:\x0bchunked\r\n",
    "form feed before value": "Transfer-Encoding:\x0cchunked\r\n",
    "NUL after value": "Transfer-Encoding: chunked\x00\r\n",
    "bare CR inside value": "Transfer-Encoding: chu\rnked\r\n",
    "bare CR at line start": "\rTransfer-Encoding: chunked\r\n",
    "bare LF line ending": "Transfer-Encoding: chunked\n",
    "quoted chunked": 'Transfer-Encoding: "chunked"\r\n',
    "chunked with parameter": "Transfer-Encoding: chunked;q=1\r\n",
    "chunked with empty parameter": "Transfer-Encoding: chunked;\r\n",
    "misspelt chunk": "Transfer-Encoding: chunk\r\n",
    "misspelt chunkedx": "Transfer-Encoding: chunkedx\r\n",
    "prefixed xchunked": "Transfer-Encoding: xchunked\r\n",
    "identity": "Transfer-Encoding: identity\r\n",
    "chunked then identity": "Transfer-Encoding: chunked, identity\r\n",
    "chunked then gzip": "Transfer-Encoding: chunked, gzip\r\n",
    "chunked listed twice": "Transfer-Encoding: chunked, chunked\r\n",
    "chunked in two fields": "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    "chunked then a second field x": "Transfer-Encoding: chunked\r\nTransfer-Encoding: x\r\n",
    "empty value": "Transfer-Encoding:\r\n",
    "empty then chunked field": "Transfer-Encoding:\r\nTransfer-Encoding: chunked\r\n",
    "non-ASCII byte in name": "Transfer-Encodin\xe9: chunked\r\n",
    "non-ASCII space before value": "Transfer-Encoding:\xa0chunked\r\n",
    "name with NUL": "Transfer-Encoding\x00: chunked\r\n",
    "name with bare CR": "Transfer-Encoding\r: chunked\r\n",
}
for label, field in te_hidden.items():
    add(f"TE {label}, with CL", post(field + "Content-Length: 4\r\n", "0\r\n\r\n"), "reject 400")
    add(f"TE {label}, alone", post(field, CHUNKED_BODY), "reject 400")

# Codings Sluice does not implement, before a final chunked: refused as not implemented.
for coding in ["gzip, chunked", "deflate, chunked", "compress, chunked", "x-custom, chunked"]:
    add(f"TE {coding}", post(f"Transfer-Encoding: {coding}\r\n", CHUNKED_BODY), "reject 501")
add("TE deflate field then chunked field", post("Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n", CHUNKED_BODY), "reject 501")

# Spellings that are the same field and the same coding: case and optional whitespace are not tricks.
te_valid = {
    "lower-case name": "transfer-encoding: chunked\r\n",
    "upper-case name": "TRANSFER-ENCODING: chunked\r\n",
    "upper-case coding": "Transfer-Encoding: CHUNKED\r\n",
    "mixed-case coding": "Transfer-Encoding: ChUnKeD\r\n",
    "tab before value": "Transfer-Encoding:\tchunked\r\n",
    "no space before value": "Transfer-Encoding:chunked\r\n",
    "trailing spaces": "Transfer-Encoding: chunked   \r\n",
    "empty list element first": "Transfer-Encoding: , chunked\r\n",
}
for label, field in te_valid.items():
    add(f"TE {label}", post(field, CHUNKED_BODY), "forward /a:5")

# A name that is not Transfer-Encoding for HTTP: the body is framed by Content-Length, and the look-alike
# field is dropped before the upstream (names with '_' are not forwarded by default).
add("Transfer_Encoding with CL", post("Transfer_Encoding: chunked\r\nContent-Length: 5\r\n", "hello"), "forward /a:5")
add("X-Transfer-Encoding with CL", post("X-Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", "hello"), "forward /a:5")

# --- Both framings, in both orders ------------------------------------------------------------------
add("CL.TE", post("Content-Length: 6\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\nX"), "reject 400")
add("TE.CL", post("Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "8\r\nSMUGGLED\r\n0\r\n\r\n"), "reject 400")
add("TE.CL with CL zero", post("Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", CHUNKED_BODY), "reject 400")
add("TE in HTTP/1.0", "POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" + CHUNKED_BODY, "reject 400")

# --- Content-Length ----------------------------------------------------------------------------------
cl_bad = {
    "two values": "Content-Length: 5\r\nContent-Length: 6\r\n",
    "list of two values": "Content-Length: 5, 6\r\n",
    "empty list element": "Content-Length: 5,,5\r\n",
    "empty": "Content-Length:\r\n",
    "plus sign": "Content-Length: +5\r\n",
    "minus sign": "Content-Length: -5\r\n",
    "hex": "Content-Length: 0x5\r\n",
    "decimal point": "Content-Length: 5.0\r\n",
    "exponent": "Content-Length: 5e0\r\n",
    "inner space": "Content-Length: 5 5\r\n",
    "overflow": "Content-Length: 184467440737095516165\r\n",
    "fullwidth digit": "Content-Length: \uff15\r\n",
    "vertical tab after": "Content-Length: 5\x0b\r\n",
    "NUL after": "Content-Length: 5\x00\r\n",
    "space before colon": "Content-Length : 5\r\n",
    "obs-fold": "Content-Length:\r\n 5\r\n",
    "letters": "Content-Length: five\r\n",
}
for label, field in cl_bad.items():
    add(f"CL {label}", post(field, "hello"), "reject 400")

cl_valid = {
    "repeated same value": "Content-Length: 5\r\nContent-Length: 5\r\n",
    "list of same value": "Content-Length: 5, 5\r\n",
    "leading zeros": "Content-Length: 005\r\n",
    "tab around": "Content-Length:\t5\t\r\n",
    "lower-case name": "content-length: 5\r\n",
}
for label, field in cl_valid.items():
    add(f"CL {label}", post(field, "hello"), "forward /a:5")
add("CL shorter than the bytes sent: the rest is the next request", post("Content-Length: 5\r\n", "helloGET /b HTTP/1.1\r\nHost: x\r\n\r\n"), "forward /a:5 /b:0")
add("CL shorter than the bytes sent: the rest is garbage", post("Content-Length: 5\r\n", "helloXYZ\r\n\r\n"), "forward /a:5 then reject 400")
add("CL too large for the limit", post("Content-Length: 999999999\r\n", ""), "reject 413")

# --- Chunked bodies ----------------------------------------------------------------------------------
chunked_bad = {
    "hex prefix": "0x5\r\nhello\r\n0\r\n\r\n",
    "plus sign": "+5\r\nhello\r\n0\r\n\r\n",
    "minus sign": "-5\r\nhello\r\n0\r\n\r\n",
    "space inside size": "5 5\r\nhello\r\n0\r\n\r\n",
    "size overflow": "10000000000000000\r\nhello\r\n0\r\n\r\n",
    "non-hex size": "g\r\nhello\r\n0\r\n\r\n",
    "empty size": "\r\nhello\r\n0\r\n\r\n",
    "bare LF after size": "5\nhello\r\n0\r\n\r\n",
    "bare CR after size": "5\rhello\r\n0\r\n\r\n",
    "data longer than size": "3\r\nhello\r\n0\r\n\r\n",
    "data shorter than size": "7\r\nhello\r\n0\r\n\r\n",
    "no CRLF after data": "5\r\nhelloX\r\n0\r\n\r\n",
    "bare LF after data": "5\r\nhello\n0\r\n\r\n",
    "bare LF after last chunk": "5\r\nhello\r\n0\n\r\n",
    "bare LF ending the body": "5\r\nhello\r\n0\r\n\n",
    "extension with bare LF": "5;a=b\nhello\r\n0\r\n\r\n",
    "extension with control byte": "5;a=\x01\r\nhello\r\n0\r\n\r\n",
    "trailer obs-fold": "5\r\nhello\r\n0\r\nX: 1\r\n 2\r\n\r\n",
    "trailer bare CR": "5\r\nhello\r\n0\r\nX: 1\r2\r\n\r\n",
    "trailer without colon": "5\r\nhello\r\n0\r\nX\r\n\r\n",
}
for label, body in chunked_bad.items():
    add(f"chunked {label}", post("Transfer-Encoding: chunked\r\n", body), "reject 400")

chunked_valid = {
    "upper-case hex": "A\r\nhellohello\r\n0\r\n\r\n",
    "leading zeros": "0005\r\nhello\r\n0\r\n\r\n",
    "extension": "5;name=value\r\nhello\r\n0\r\n\r\n",
    "quoted extension": '5;name="a b"\r\nhello\r\n0\r\n\r\n',
    "two chunks": "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n",
    "trailer field": "5\r\nhello\r\n0\r\nX-Checksum: 1\r\n\r\n",
    "empty body": "0\r\n\r\n",
}
for label, body in chunked_valid.items():
    length = {"upper-case hex": 10, "empty body": 0}.get(label, 5)
    add(f"chunked {label}", post("Transfer-Encoding: chunked\r\n", body), f"forward /a:{length}")
add("chunked then a pipelined request", post("Transfer-Encoding: chunked\r\n", CHUNKED_BODY + "GET /b HTTP/1.1\r\nHost: x\r\n\r\n"), "forward /a:5 /b:0")
# GPOST is a legal method token: framed correctly, the prefix is just the next request, for every hop alike.
add("chunked then a smuggled prefix", post("Transfer-Encoding: chunked\r\n", "0\r\n\r\nGPOST /b HTTP/1.1\r\nHost: x\r\n\r\n"), "forward /a:0 /b:0")
add("chunked then bytes that are no request", post("Transfer-Encoding: chunked\r\n", "0\r\n\r\nG(ST /b HTTP/1.1\r\nHost: x\r\n\r\n"), "forward /a:0 then reject 400")

# --- Heads: line endings, folding, bare CR ------------------------------------------------------------
add("issue 12: bare CR at a field line's start hides CL and a second request",
    "POST /a HTTP/1.1\r\nHost: x\r\n\rX: y\r\nContent-Length: 35\r\n\r\nGET /SMUGGLED HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("bare CR line before CL", "POST /a HTTP/1.1\r\nHost: x\r\n\r\r\nContent-Length: 5\r\n\r\nhello", "reject 400")
add("bare CR as a line ending", "GET /a HTTP/1.1\r\nHost: x\rX: 1\r\n\r\n", "reject 400")
add("bare CR in the request line", "GET /a\r HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("bare LF after the request line", "GET /a HTTP/1.1\nHost: x\r\n\r\n", "reject 400")
add("bare LF ending the head", "GET /a HTTP/1.1\r\nHost: x\r\n\n", "reject 400")
add("bare LF before the request line", "\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("bare CR before the request line", "\rGET /a HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("empty lines before the request line", "\r\n\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n", "forward /a:0")
add("obs-fold of a plain field", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", "reject 400")
add("whitespace before the first field", "GET /a HTTP/1.1\r\n Host: x\r\n\r\n", "reject 400")
add("field without colon", "GET /a HTTP/1.1\r\nHost: x\r\nX-A\r\n\r\n", "reject 400")
add("empty field name", "GET /a HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", "reject 400")
add("DEL in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x7fb\r\n\r\n", "reject 400")
add("escape in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\x1bb\r\n\r\n", "reject 400")
add("obs-text in a value", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: caf\xe9\r\n\r\n", "forward /a:0")

# --- Host ----------------------------------------------------------------------------------------------
add("no Host in HTTP/1.1", "GET /a HTTP/1.1\r\nX-A: 1\r\n\r\n", "reject 400")
add("two Hosts", "GET /a HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n", "reject 400")
add("two Hosts, same value", "GET /a HTTP/1.1\r\nHost: x\r\nhost: x\r\n\r\n", "reject 400")
add("no Host in HTTP/1.0", "GET /a HTTP/1.0\r\n\r\n", "forward /a:0")

# --- Request line ---------------------------------------------------------------------------------------
add("two spaces after the method", "GET  /a HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("tab as separator", "GET\t/a HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("space in the target", "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("trailing space", "GET /a HTTP/1.1 \r\nHost: x\r\n\r\n", "reject 400")
add("missing version", "GET /a\r\nHost: x\r\n\r\n", "reject 400")
add("lower-case version", "GET /a http/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("two-digit minor version", "GET /a HTTP/1.10\r\nHost: x\r\n\r\n", "reject 400")
add("HTTP/1.2", "GET /a HTTP/1.2\r\nHost: x\r\n\r\n", "reject 505")
add("HTTP/2.0 over HTTP/1", "GET /a HTTP/2.0\r\nHost: x\r\n\r\n", "reject 505")
add("non-token method", "G(T /a HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("control byte in the target", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("non-ASCII in the target", "GET /\xe9 HTTP/1.1\r\nHost: x\r\n\r\n", "reject 400")
add("over-long request line", "GET /" + "a" * 9000 + " HTTP/1.1\r\nHost: x\r\n\r\n", "reject 414")
add("over-long head", "GET /a HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 40000 + "\r\n\r\n", "reject 431")

# --- Pipelining ----------------------------------------------------------------------------------------
add("two pipelined GETs", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n", "forward /a:0 /b:0")
add("good then a bare-LF request", "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\nHost: x\r\n\r\n", "forward /a:0 then reject 400")
add("GET with CL body then a GET", "GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /b HTTP/1.1\r\nHost: x\r\n\r\n", "forward /a:5 /b:0")


def escape(text):
    out = []
    for ch in text:
        o = ord(ch)
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif o < 0x20 or o == 0x7F or 0x80 <= o < 0x100:
            out.append(f"\\x{o:02x}")
        elif o >= 0x100:
            out.extend(f"\\x{b:02x}" for b in ch.encode("utf-8"))
        else:
            out.append(ch)
    return "".join(out)


print("# Request shapes and the verdict Sluice must reach (generated by make-request-smuggling.py; see there).")
print("# name\tverdict\trequest bytes (\\r \\n \\t \\\\ and \\xHH escapes)")
for name, verdict, raw in rows:
    print(f"{name}\t{verdict}\t{escape(raw)}")
