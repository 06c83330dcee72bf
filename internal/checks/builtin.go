package checks

// builtinTypes lists the built-in check types. One line per type; keep it sorted.
func builtinTypes() []Type {
	return []Type{
		{Name: "celery", ComponentType: "component", NewConfig: newCeleryConfig},
		{Name: "disk", ComponentType: "system", NewConfig: newDiskConfig},
		{Name: "dns", ComponentType: "component", NewConfig: newDNSConfig},
		{Name: "exec", ComponentType: "component", NewConfig: newExecConfig},
		{Name: "grpc", ComponentType: "component", NewConfig: newGRPCConfig},
		{Name: "http", ComponentType: "component", NewConfig: newHTTPConfig},
		{Name: "kafka", ComponentType: "component", NewConfig: newKafkaConfig},
		{Name: "memcached", ComponentType: "datastore", NewConfig: newMemcachedConfig},
		{Name: "memory", ComponentType: "system", NewConfig: newMemoryConfig},
		{Name: "mqtt", ComponentType: "component", NewConfig: newMQTTConfig},
		{Name: "mysql", ComponentType: "datastore", NewConfig: newMySQLConfig},
		{Name: "nats", ComponentType: "component", NewConfig: newNATSConfig},
		{Name: "postgres", ComponentType: "datastore", NewConfig: newPostgresConfig},
		{Name: "process", ComponentType: "system", NewConfig: newProcessConfig},
		{Name: "rabbitmq", ComponentType: "component", NewConfig: newRabbitMQConfig},
		{Name: "redis", ComponentType: "datastore", NewConfig: newRedisConfig},
		{Name: "s3", ComponentType: "datastore", NewConfig: newS3Config},
		{Name: "smtp", ComponentType: "component", NewConfig: newSMTPConfig},
		{Name: "sql", ComponentType: "datastore", NewConfig: newSQLConfig},
		{Name: "storage", ComponentType: "system", NewConfig: newStorageConfig},
		{Name: "tcp", ComponentType: "component", NewConfig: newTCPConfig},
		{Name: "tls", ComponentType: "component", NewConfig: newTLSCertConfig},
	}
}
