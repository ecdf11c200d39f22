package authserver

import "go.uber.org/zap"

// Log fields. Tokens, codes and secrets are never logged.
func zapClient(id string) zap.Field    { return zap.String("client_id", id) }
func zapSubject(sub string) zap.Field  { return zap.String("sub", sub) }
func zapGrantType(gt string) zap.Field { return zap.String("grant_type", gt) }
func zapErr(err error) zap.Field       { return zap.Error(err) }
func zapResource(res string) zap.Field { return zap.String("resource", res) }
