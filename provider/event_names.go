// The event catalogue. Every name is copied exactly from the specification (events.tsv).

package provider

// EventName is one name of the provider event catalogue. The spelling of every
// value is a public contract: dashboards, alert rules and users' log queries
// match on it.
type EventName string

// The catalogue, in the order of the specification.
const (
	EventAccessTokenDestroyed                EventName = "access_token.destroyed"                 // params (token)
	EventAccessTokenSaved                    EventName = "access_token.saved"                     // params (token)
	EventAccessTokenIssued                   EventName = "access_token.issued"                    // params (token)
	EventAuthorizationCodeConsumed           EventName = "authorization_code.consumed"            // params (code)
	EventAuthorizationCodeDestroyed          EventName = "authorization_code.destroyed"           // params (code)
	EventAuthorizationCodeSaved              EventName = "authorization_code.saved"               // params (code)
	EventAuthorizationAccepted               EventName = "authorization.accepted"                 // params (ctx)
	EventAuthorizationError                  EventName = "authorization.error"                    // params (ctx, error)
	EventAuthorizationSuccess                EventName = "authorization.success"                  // params (ctx)
	EventBackchannelError                    EventName = "backchannel.error"                      // params (ctx, error, client, accountId, sid)
	EventBackchannelSuccess                  EventName = "backchannel.success"                    // params (ctx, client, accountId, sid)
	EventJwksError                           EventName = "jwks.error"                             // params (ctx, error)
	EventClientCredentialsDestroyed          EventName = "client_credentials.destroyed"           // params (token)
	EventClientCredentialsSaved              EventName = "client_credentials.saved"               // params (token)
	EventClientCredentialsIssued             EventName = "client_credentials.issued"              // params (token)
	EventDeviceCodeConsumed                  EventName = "device_code.consumed"                   // params (code)
	EventDeviceCodeDestroyed                 EventName = "device_code.destroyed"                  // params (code)
	EventDeviceCodeSaved                     EventName = "device_code.saved"                      // params (code)
	EventDiscoveryError                      EventName = "discovery.error"                        // params (ctx, error)
	EventEndSessionError                     EventName = "end_session.error"                      // params (ctx, error)
	EventEndSessionSuccess                   EventName = "end_session.success"                    // params (ctx)
	EventGrantError                          EventName = "grant.error"                            // params (ctx, error)
	EventGrantRevoked                        EventName = "grant.revoked"                          // params (ctx, grantId)
	EventGrantSuccess                        EventName = "grant.success"                          // params (ctx)
	EventInitialAccessTokenDestroyed         EventName = "initial_access_token.destroyed"         // params (token)
	EventInitialAccessTokenSaved             EventName = "initial_access_token.saved"             // params (token)
	EventInteractionDestroyed                EventName = "interaction.destroyed"                  // params (interaction)
	EventInteractionEnded                    EventName = "interaction.ended"                      // params (ctx)
	EventInteractionSaved                    EventName = "interaction.saved"                      // params (interaction)
	EventInteractionStarted                  EventName = "interaction.started"                    // params (ctx, prompt)
	EventIntrospectionError                  EventName = "introspection.error"                    // params (ctx, error)
	EventReplayDetectionDestroyed            EventName = "replay_detection.destroyed"             // params (token)
	EventReplayDetectionSaved                EventName = "replay_detection.saved"                 // params (token)
	EventPushedAuthorizationRequestError     EventName = "pushed_authorization_request.error"     // params (ctx, error)
	EventPushedAuthorizationRequestSuccess   EventName = "pushed_authorization_request.success"   // params (ctx, client)
	EventPushedAuthorizationRequestDestroyed EventName = "pushed_authorization_request.destroyed" // params (token)
	EventPushedAuthorizationRequestSaved     EventName = "pushed_authorization_request.saved"     // params (token)
	EventRefreshTokenConsumed                EventName = "refresh_token.consumed"                 // params (token)
	EventRefreshTokenDestroyed               EventName = "refresh_token.destroyed"                // params (token)
	EventRefreshTokenSaved                   EventName = "refresh_token.saved"                    // params (token)
	EventRegistrationAccessTokenDestroyed    EventName = "registration_access_token.destroyed"    // params (token)
	EventRegistrationAccessTokenSaved        EventName = "registration_access_token.saved"        // params (token)
	EventRegistrationCreateError             EventName = "registration_create.error"              // params (ctx, error)
	EventRegistrationCreateSuccess           EventName = "registration_create.success"            // params (ctx, client)
	EventRegistrationDeleteError             EventName = "registration_delete.error"              // params (ctx, error)
	EventRegistrationDeleteSuccess           EventName = "registration_delete.success"            // params (ctx, client)
	EventRegistrationReadError               EventName = "registration_read.error"                // params (ctx, error)
	EventRegistrationUpdateError             EventName = "registration_update.error"              // params (ctx, error)
	EventRegistrationUpdateSuccess           EventName = "registration_update.success"            // params (ctx, client)
	EventRevocationError                     EventName = "revocation.error"                       // params (ctx, error)
	EventServerError                         EventName = "server_error"                           // params (ctx, error)
	EventSessionDestroyed                    EventName = "session.destroyed"                      // params (session)
	EventSessionSaved                        EventName = "session.saved"                          // params (session)
	EventUserinfoError                       EventName = "userinfo.error"                         // params (ctx, error)
)

// Catalogue lists every event name the provider may emit, in specification order.
// Telemetry pre-creates a metric series per entry so zeros are exported.
var Catalogue = []EventName{
	EventAccessTokenDestroyed,
	EventAccessTokenSaved,
	EventAccessTokenIssued,
	EventAuthorizationCodeConsumed,
	EventAuthorizationCodeDestroyed,
	EventAuthorizationCodeSaved,
	EventAuthorizationAccepted,
	EventAuthorizationError,
	EventAuthorizationSuccess,
	EventBackchannelError,
	EventBackchannelSuccess,
	EventJwksError,
	EventClientCredentialsDestroyed,
	EventClientCredentialsSaved,
	EventClientCredentialsIssued,
	EventDeviceCodeConsumed,
	EventDeviceCodeDestroyed,
	EventDeviceCodeSaved,
	EventDiscoveryError,
	EventEndSessionError,
	EventEndSessionSuccess,
	EventGrantError,
	EventGrantRevoked,
	EventGrantSuccess,
	EventInitialAccessTokenDestroyed,
	EventInitialAccessTokenSaved,
	EventInteractionDestroyed,
	EventInteractionEnded,
	EventInteractionSaved,
	EventInteractionStarted,
	EventIntrospectionError,
	EventReplayDetectionDestroyed,
	EventReplayDetectionSaved,
	EventPushedAuthorizationRequestError,
	EventPushedAuthorizationRequestSuccess,
	EventPushedAuthorizationRequestDestroyed,
	EventPushedAuthorizationRequestSaved,
	EventRefreshTokenConsumed,
	EventRefreshTokenDestroyed,
	EventRefreshTokenSaved,
	EventRegistrationAccessTokenDestroyed,
	EventRegistrationAccessTokenSaved,
	EventRegistrationCreateError,
	EventRegistrationCreateSuccess,
	EventRegistrationDeleteError,
	EventRegistrationDeleteSuccess,
	EventRegistrationReadError,
	EventRegistrationUpdateError,
	EventRegistrationUpdateSuccess,
	EventRevocationError,
	EventServerError,
	EventSessionDestroyed,
	EventSessionSaved,
	EventUserinfoError,
}
