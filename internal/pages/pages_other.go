//go:build !linux

package pages

// Release does nothing outside Linux.
func Release() (Released, error) { return Released{}, nil }

// Executable reports nothing outside Linux.
func Executable(pid string) (string, []Mapping, error) { return "", nil, nil }
