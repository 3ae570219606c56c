// Package push sends push notices to the citizens' app over Firebase Cloud
// Messaging and keeps the devices they arrive on.
//
// A notice is an outbox message of kind channels.KindPush: Sender hands it
// to FCM once per device of the phone, removes the devices FCM reports as
// gone, and fails it for good when no device is left, so that the outbox
// sends its SMS fallback instead. Devices serves the app's endpoints that
// register and remove a device (POST /v1/devices, DELETE
// /v1/devices/{token}).
//
// Neither a notice's text nor a device token is ever logged; phones are
// masked in logs.
package push

import (
	"context"
	"fmt"
	"net/http"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
	htransport "google.golang.org/api/transport/http"
)

// messagingScope is the OAuth scope of FCM's HTTP v1 API.
const messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// Config says which Firebase project to send through and with which
// credentials.
type Config struct {
	// ProjectID is the Firebase project. When empty it comes from the
	// credentials or GOOGLE_CLOUD_PROJECT; set it when HTTPClient is set,
	// since the SDK then cannot see the credentials.
	ProjectID string
	// CredentialsFile is a service-account JSON key. Empty: Application
	// Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, or the workload
	// identity of the machine), which keeps keys out of the deployment.
	CredentialsFile string
	// Endpoint replaces FCM's ("https://fcm.googleapis.com/v1") for tests,
	// e.g. peertest.FCM's; requests to it carry no credentials.
	Endpoint string
	// HTTPClient, when set, carries the requests (its timeout, proxy and
	// TLS settings); the credentials are added on top of its transport.
	HTTPClient *http.Client
}

// NewClient returns an FCM client for cfg. Credentials are read now, so a
// missing or malformed key file is an error here rather than at the first
// notice; tokens are fetched when the first notice is sent.
func NewClient(ctx context.Context, cfg Config) (*messaging.Client, error) {
	var opts []option.ClientOption
	switch {
	case cfg.Endpoint != "":
		opts = append(opts, option.WithEndpoint(cfg.Endpoint), option.WithoutAuthentication())
		if cfg.HTTPClient != nil {
			opts = append(opts, option.WithHTTPClient(cfg.HTTPClient))
		}
	case cfg.HTTPClient != nil:
		// WithHTTPClient makes the SDK skip its own credentials, so they
		// go into the client's transport here.
		var creds []option.ClientOption
		if cfg.CredentialsFile != "" {
			creds = append(creds, option.WithCredentialsFile(cfg.CredentialsFile))
		}
		base := cfg.HTTPClient.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		rt, err := htransport.NewTransport(ctx, base, append(creds, option.WithScopes(messagingScope))...)
		if err != nil {
			return nil, fmt.Errorf("push: credentials: %w", err)
		}
		hc := *cfg.HTTPClient
		hc.Transport = rt
		opts = append(opts, option.WithHTTPClient(&hc))
	case cfg.CredentialsFile != "":
		opts = append(opts, option.WithCredentialsFile(cfg.CredentialsFile))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("push: firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("push: messaging client of project %q: %w", cfg.ProjectID, err)
	}
	return client, nil
}
