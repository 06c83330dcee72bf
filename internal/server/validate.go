package server

// CheckTemplate loads a custom dashboard template (server.template) as
// serving would, with the Content-Security-Policy rules its pages must
// follow, without building any check: what `healthd validate` asks.
func CheckTemplate(path string) error {
	_, err := loadTemplate(path)
	return err
}
