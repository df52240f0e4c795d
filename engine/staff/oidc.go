package staff

// OIDC signs a tenant's staff in through its OpenID provider.
type OIDC struct {
	staff *Staff
}
