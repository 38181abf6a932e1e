package control

import (
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
)

// guard refuses what a web page in the operator's browser can make the
// browser send:
//
//   - a request whose Host is a DNS name other than localhost and the
//     names allowed (hosts): a page that rebinds its own name to 127.0.0.1
//     sends its own name as Host, so it can neither read the API nor steer
//     it;
//
//   - a state-changing request (anything but GET and HEAD) from another
//     origin: by Sec-Fetch-Site, by an Origin other than the Host, or by a
//     body type an HTML form can send (a form needs no CORS preflight, so
//     it is the one way a page can POST across origins).
//
//   - any frame: every answer says X-Frame-Options: DENY and
//     frame-ancestors 'none'.
//
// ctl and curl send no Origin and no form types, and the dashboard is the
// API's own origin: they are untouched.
func guard(hosts []string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// No page may frame any of it: a frame lets a page trick the
		// operator into pressing the game-day page's buttons
		// (clickjacking), from another site or another port alike.
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
		if !hostAllowed(r.Host, hosts) {
			refuse(w, http.StatusMisdirectedRequest, "Host "+quote(r.Host)+" is not this control API's: use its address, localhost, or a name given with --control-host")
			return
		}
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			refuse(w, http.StatusForbidden, "a "+site+" request may not change faults: send it from the dashboard, ctl or curl")
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !sameOrigin(origin, r.Host) {
			refuse(w, http.StatusForbidden, "origin "+quote(origin)+" may not change faults: send it from the dashboard, ctl or curl")
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if media, _, err := mime.ParseMediaType(ct); err != nil || formTypes[media] {
				refuse(w, http.StatusUnsupportedMediaType, "Content-Type "+quote(ct)+" is refused, since HTML forms send it: send no body, or application/yaml or application/json")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// formTypes are the body types an HTML form can send across origins.
var formTypes = map[string]bool{"application/x-www-form-urlencoded": true, "multipart/form-data": true, "text/plain": true}

// hostAllowed tells whether a request's Host names this API: an IP
// address (a rebinding page cannot send one: the browser sends the page's
// own name), localhost, or one of hosts.
func hostAllowed(hostport string, hosts []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if _, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return true
	}
	return host == "localhost" || slices.ContainsFunc(hosts, func(h string) bool { return strings.EqualFold(h, host) })
}

// sameOrigin tells whether origin (scheme://host[:port]) is the API's own.
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && strings.EqualFold(u.Host, host) // https: behind a TLS proxy
}

// refuse answers a request the guard or the token check turned away, and
// closes the connection: a client that is refused once gets no kept-alive
// connection to hold.
func refuse(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Connection", "close")
	writeJSON(w, code, Problem{Error: msg})
}

func quote(s string) string {
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return `"` + s + `"`
}
