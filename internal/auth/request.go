package auth

import (
	"net/http"
	"strings"
)

// FromRequest returns the token a request carries:
//
//   - "Authorization: Bearer TOKEN", or
//   - HTTP Basic authentication with TOKEN as the password and any user
//     name — what the go command sends from .netrc or GOAUTH=netrc. If the
//     password is empty and the user name is a modferry token (it starts
//     with "mf_"), the user name is taken instead, for tools that can only
//     set a user.
//
// ok is false if the request carries no token.
func FromRequest(r *http.Request) (token string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	if strings.EqualFold(scheme, "Bearer") {
		token = strings.TrimSpace(rest)
		return token, token != ""
	}
	user, pass, ok := r.BasicAuth()
	switch {
	case !ok:
		return "", false
	case pass != "":
		return pass, true
	case strings.HasPrefix(user, SecretPrefix):
		return user, true
	}
	return "", false
}
