package config

import (
	"reflect"
	"strings"
)

// schemaKeys lists every key path of the schema ("server.https",
// "site.cert.key", ...), for documentation checks and environment overrides.
func schemaKeys() []string {
	var keys []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name := strings.Split(f.Tag.Get("toml"), ",")[0]
			if name == "" || name == "-" {
				continue
			}
			key := prefix + name
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != reflect.TypeOf(Duration{}) {
				walk(ft, key+".")
				continue
			}
			keys = append(keys, key)
		}
	}
	walk(reflect.TypeOf(Config{}), "")
	return keys
}
