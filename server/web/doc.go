// Package web is the people-facing pages of a station and a hub: one small application of
// static files (HTML, CSS, JavaScript modules, no build step), embedded in the binary so a
// station with no internet serves every byte itself, and driving only the JSON API — the
// pages hold no rules of their own, so a form and a script are refused for the same reasons.
//
// Text is Chinese first with an English switch (js/i18n.js); times are shown in
// Asia/Shanghai. The layout works on a 1366×768 laptop and on a phone.
package web
