// Package django holds the comparison of healthd with the peer it replaces:
// a real Django project with django-health-check 3.x (Debian's packages),
// configured as the migration guide's "before" example, and healthd with its
// "after" example, against the same servers, must give the same JSON keys.
package django
