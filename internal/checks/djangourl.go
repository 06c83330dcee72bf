package checks

import "strings"

// DjangoSchemes lists the URL schemes that Django's URL conventions
// (dj-database-url, django-environ, django-cache-url) accept for the server
// protocol of check type typ, beside the protocol's own: they choose a
// Django backend (postgis:// is PostgreSQL for GeoDjango, rediscache:// is
// django-environ's Redis cache), not another protocol. The postgres, mysql
// and redis checks read them as their own scheme, so a DATABASE_URL or
// CACHE_URL works as the app has it. A fresh slice on each call.
func DjangoSchemes(typ string) []string {
	switch typ {
	case "postgres":
		return []string{"postgis", "pgsql", "timescale", "timescalegis"}
	case "mysql":
		return []string{"mysql2", "mysqlgis", "mysql-connector"}
	case "redis":
		return []string{"rediscache", "hiredis"}
	}
	return nil
}

// djangoURL returns raw with its scheme replaced by to when the scheme is
// one of DjangoSchemes(typ) (in any case); anything else as it is.
func djangoURL(raw, typ, to string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	for _, s := range DjangoSchemes(typ) {
		if strings.EqualFold(scheme, s) {
			return to + "://" + rest
		}
	}
	return raw
}
