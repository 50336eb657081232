#!/usr/bin/python3
"""Bad input to every endpoint of aster-control's HTTPS API: a test peer.

    api_bad_input.py --url https://127.0.0.1:PORT --cacert CA --cert PEM --key KEY
                     --max-body N --bad-yaml FILE --bad-yaml-error TEXT
                     [--plain http://127.0.0.1:PORT]

Sends, over mutual TLS with a write-role certificate, to each endpoint of the API
(docs/console.md): the wrong method, a body where none belongs, unknown arguments and
fields, invalid JSON, a body that is not an object, missing and mistyped fields, an empty
body, a body over the limit (announced, and chunked), an unknown endpoint, and an applied
file with a YAML error. Every answer must be a 4xx with a JSON refusal
{"ok": false, "error": one line, "kind"}; the YAML error must read exactly as asterctl
prints it on the appliance (--bad-yaml-error). The endpoints beside the API (/health,
/status, /metrics, /events, the console's files) must refuse other methods and bodies,
announced too large or not, with a one-line 405 saying what they take, and unknown paths
with a 404. With --plain, changes on the plain HTTP listener must be refused too, and
the same for its endpoints beside the API. Whether the table moved is the caller's to check (it
compares the table before and after). Exit 1 with one line on the first surprise.
Written from the documented API alone, sharing no code with aster.
"""
import argparse
import http.client
import json
import ssl
import sys
import urllib.parse

READS = ["health", "status", "stats", "feeds", "subscribers", "history", "history/1"]
# endpoint -> (a valid body, its required fields, a field and a value of the wrong type)
# The endpoints beside the API (docs/console.md): GET only, on either listener.
PAGES = ["/health", "/status", "/metrics", "/events", "/console/", "/console/console.js"]
CHANGES = {
    "apply": ({"yaml": "feeds: []\n", "file": "x.yaml"}, ["yaml"], ("yaml", 7)),
    "add-subscriber": ({"subscriber": {"name": "zz"}}, ["subscriber"], ("subscriber", "zz")),
    "remove-subscriber": ({"name": "zz"}, ["name"], ("name", ["zz"])),
    "add-pattern": ({"subscriber": "zz", "pattern": "^A"}, ["subscriber", "pattern"], ("pattern", 1)),
    "remove-pattern": ({"subscriber": "zz", "pattern": "^A"}, ["subscriber", "pattern"], ("dry_run", "yes")),
}


def die(msg):
    print(f"api_bad_input: FAIL: {msg}")
    sys.exit(1)


class Api:
    def __init__(self, url, ctx):
        u = urllib.parse.urlsplit(url)
        self.host, self.port, self.scheme, self.ctx = u.hostname, u.port, u.scheme, ctx
        self.count = 0

    def call(self, method, path, body=None, headers=None, chunked=False, announce=None):
        """One request; with `announce`, only the headers, saying a body of that size
        follows (a server refuses it from the headers, as it should, before the body)."""
        if self.scheme == "https":
            c = http.client.HTTPSConnection(self.host, self.port, context=self.ctx, timeout=30)
        else:
            c = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            if announce is not None:
                c.putrequest(method, path)
                for k, v in (headers or {}).items():
                    c.putheader(k, v)
                c.putheader("Content-Length", str(announce))
                c.endheaders()
            else:
                c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
            r = c.getresponse()
            data = r.read()
            return r.status, dict(r.getheaders()), data
        except (OSError, http.client.HTTPException) as e:
            return None, {}, str(e).encode()
        finally:
            c.close()

    def refused(self, what, want, method, path, body=None, headers=None, chunked=False,
                text=None, announce=None):
        """The call must be answered `want` with a one-line JSON refusal (holding `text`)."""
        status, hdrs, data = self.call(method, path, body, headers, chunked, announce)
        self.count += 1
        if status != want:
            die(f"{what}: {method} {path}: HTTP {status}, want {want}: {data[:200]!r}")
        try:
            r = json.loads(data)
        except ValueError:
            die(f"{what}: {method} {path}: HTTP {status} without JSON: {data[:200]!r}")
        err = r.get("error", "")
        if r.get("ok") is not False or not err or "\n" in err or not r.get("kind"):
            die(f"{what}: {method} {path}: not a one-line refusal: {r}")
        if text is not None and err != text and text not in err:
            die(f"{what}: {method} {path}: error {err!r}, want {text!r}")
        if want == 405 and "Allow" not in hdrs:
            die(f"{what}: {method} {path}: 405 without Allow")
        return r

    def page_refused(self, what, want, method, path, body=None, announce=None):
        """An endpoint beside the API: `want` with one line of text (and Allow on 405)."""
        status, hdrs, data = self.call(method, path, body, {"Content-Type": "text/plain"},
                                       announce=announce)
        self.count += 1
        text = data.decode(errors="replace").strip()
        if status != want or not text or "\n" in text:
            die(f"{what}: {method} {path}: HTTP {status}, want {want} with one line: {data[:200]!r}")
        if want == 405 and hdrs.get("Allow") != "GET, HEAD":
            die(f"{what}: {method} {path}: 405 with Allow {hdrs.get('Allow')!r}")

    def pages(self):
        """Every endpoint beside the API refuses what it does not take."""
        for path in PAGES:
            self.page_refused("wrong method", 405, "POST", path, b"x=1")
            self.page_refused("wrong method", 405, "DELETE", path)
            self.page_refused("wrong method", 405, "PUT", path, b"{}")
            self.page_refused("oversized body", 405, "POST", path, announce=1 << 30)
        self.page_refused("unknown path", 404, "GET", "/frobnicate")
        self.page_refused("unknown console file", 404, "GET", "/console/../../etc/passwd")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--cacert", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--max-body", type=int, required=True)
    ap.add_argument("--bad-yaml", required=True)
    ap.add_argument("--bad-yaml-error", required=True)
    ap.add_argument("--plain")
    a = ap.parse_args()
    ctx = ssl.create_default_context(cafile=a.cacert)
    ctx.load_cert_chain(a.cert, a.key)
    api = Api(a.url, ctx)
    json_hdr = {"Content-Type": "application/json"}
    p = lambda e: "/api/v1/" + e

    for e in READS:
        api.refused("wrong method", 405, "POST", p(e), b"{}", json_hdr)
        api.refused("wrong method", 405, "DELETE", p(e))
        api.refused("a body on GET", 400, "GET", p(e), b'{"x": 1}', json_hdr)
        api.refused("unknown argument", 400, "GET", p(e) + "?verbose=1", text='unknown argument "verbose"')
    for e, (good, required, (field, wrong)) in CHANGES.items():
        api.refused("wrong method", 405, "GET", p(e))
        api.refused("wrong method", 405, "PUT", p(e), json.dumps(good), json_hdr)
        api.refused("invalid JSON", 400, "POST", p(e), b'{"yaml": "x",', json_hdr, text="invalid JSON")
        api.refused("not an object", 400, "POST", p(e), b'["a"]', json_hdr, text="must be a JSON object")
        api.refused("empty body", 400, "POST", p(e), b"", json_hdr, text="must be a JSON object")
        api.refused("unknown field", 400, "POST", p(e), json.dumps(dict(good, colour="red")),
                    json_hdr, text='unknown field "colour"')
        for f in required:
            body = {k: v for k, v in good.items() if k != f}
            api.refused("missing field", 400, "POST", p(e), json.dumps(body), json_hdr,
                        text=f'"{f}" missing')
        api.refused("wrong type", 400, "POST", p(e), json.dumps(dict(good, **{field: wrong})),
                    json_hdr, text=f'"{field}" must be')
        api.refused("arguments in the query", 400, "POST", p(e) + "?dry_run=1", json.dumps(good),
                    json_hdr, text="arguments in the body")
        big = json.dumps(dict(good, file="x" * a.max_body)).encode()
        api.refused("oversized body", 413, "POST", p(e), None, json_hdr, text="https_max_body",
                    announce=len(big))
        api.refused("oversized chunked body", 413, "POST", p(e), iter([big[:4096], big[4096:]]),
                    dict(json_hdr, **{"Transfer-Encoding": "chunked"}), chunked=True,
                    text="https_max_body")
    api.pages()
    api.refused("unknown endpoint", 404, "GET", p("frobnicate"))
    api.refused("unknown endpoint", 404, "POST", p("frobnicate"), b"{}", json_hdr)
    api.refused("history of no version", 400, "GET", p("history/abc"))
    yaml_text = open(a.bad_yaml).read()
    r = api.refused("YAML error", 400, "POST", p("apply"),
                    json.dumps({"yaml": yaml_text, "file": a.bad_yaml}), json_hdr)
    if r["error"] != a.bad_yaml_error:
        die(f"YAML error: the API says {r['error']!r}, asterctl on the appliance {a.bad_yaml_error!r}")
    print(f"api: {api.count} bad requests to {len(READS) + len(CHANGES)} endpoints and "
          f"{len(PAGES)} pages refused with one line (JSON from the API); YAML error as on the "
          f"appliance: {r['error']!r}")
    if a.plain:
        plain = Api(a.plain, None)
        for e, (good, _, _) in CHANGES.items():
            plain.refused("change on the plain listener", 403, "POST", p(e), json.dumps(good),
                          json_hdr, text="read-only")
        plain.pages()
        status, _, data = plain.call("GET", p("status"))
        if status != 200 or json.loads(data).get("ok") is not True:
            die(f"plain listener: GET /api/v1/status: HTTP {status}: {data[:200]!r}")
        print(f"plain HTTP: {plain.count} changes and bad requests refused (403 read-only, "
              f"405, 404); reads served")


if __name__ == "__main__":
    main()
