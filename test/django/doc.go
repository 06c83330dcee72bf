// Package django holds the comparison of healthd with the peer it replaces:
// a real Django project with django-health-check 3.x (Debian's packages),
// configured as the migration guide's "before" example, and healthd with its
// "after" example, against the same servers, must give the same JSON keys.
// It also runs the custom-checks guide's Django health view under Django's
// own server and judges it with the guide's http expect_json check.
package django
