package push

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/govchannels/channels"
	"github.com/govchannels/channels/apijson"
	"github.com/govchannels/channels/auth"
	"github.com/govchannels/channels/keylock"
	"github.com/govchannels/channels/locales"
)

// Defaults of the DevicesConfig fields left zero.
const (
	DefaultMaxDevices = 10
	DefaultMaxBody    = 8 << 10
)

// MaxTokenSize is the longest device token accepted, in bytes; FCM's are
// about 160.
const MaxTokenSize = 4096

// platforms are the apps a device token may come from.
var platforms = []string{"android", "ios", "web"}

// DevicesConfig wires a Devices. Store and Bundle are required.
type DevicesConfig struct {
	Store  channels.DeviceStore
	Bundle *locales.Bundle  // the languages a device may ask for, and the errors' messages
	Log    *slog.Logger     // discarded when nil
	Now    func() time.Time // the registration time; time.Now when nil
	// MaxDevices is how many devices a phone keeps; registering one more
	// removes the one that registered longest ago. DefaultMaxDevices when 0.
	MaxDevices int
	MaxBody    int64 // request body limit in bytes; DefaultMaxBody when 0
	// Locks serialize the registrations of one phone across the
	// processes sharing Store; within this process when nil.
	Locks channels.KeyLocker
}

// Devices serves the endpoints through which the app registers the
// devices that receive a citizen's notices. It is safe for concurrent use.
type Devices struct {
	cfg DevicesConfig
	log *slog.Logger
	// locks serializes the registrations of one phone, so that two at once
	// cannot both stay under MaxDevices by counting the same devices:
	// Config.Locks, or locks of these Devices.
	locks channels.KeyLocker
}

// NewDevices returns the device endpoints for cfg. It panics when a
// required dependency is missing, which is a wiring mistake rather than a
// runtime condition.
func NewDevices(cfg DevicesConfig) *Devices {
	if cfg.Store == nil || cfg.Bundle == nil {
		panic("push: DevicesConfig needs Store and Bundle")
	}
	if cfg.MaxDevices <= 0 {
		cfg.MaxDevices = DefaultMaxDevices
	}
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var locks channels.KeyLocker = &keylock.Keys{}
	if cfg.Locks != nil {
		locks = cfg.Locks
	}
	return &Devices{cfg: cfg, log: log.With("channel", string(channels.ChannelApp)), locks: locks}
}

// lock holds the registrations of phone until the returned func is
// called.
func (d *Devices) lock(ctx context.Context, phone string) (func(), error) {
	unlock, err := d.locks.LockKey(ctx, "push/"+phone)
	if err != nil {
		return nil, fmt.Errorf("lock the devices of %s: %w", channels.MaskPhone(phone), err)
	}
	return unlock, nil
}

// deviceRequest is the body of POST /v1/devices.
type deviceRequest struct {
	Token    string `json:"token"`
	Platform string `json:"platform"`
	Lang     string `json:"lang,omitempty"`
}

// deviceReply is the answer of POST /v1/devices.
type deviceReply struct {
	Token     string    `json:"token"`
	Platform  string    `json:"platform"`
	Lang      string    `json:"lang,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// Register mounts the endpoints on r behind require (auth.Auth.Require),
// which signs the citizen in:
//
//	POST /v1/devices {"token", "platform": "android"|"ios"|"web", "lang"?}
//	  → 201 {"token", "platform", "lang", "created_at"} for a device new to
//	    the phone, 200 when the phone registers it again
//	DELETE /v1/devices/{token} → 204; 404 unless it is the phone's device
//
// Errors are the app's JSON errors in the language of Accept-Language.
func (d *Devices) Register(r gin.IRouter, require gin.HandlerFunc) {
	g := r.Group("/v1/devices", require)
	g.POST("", d.handle(d.put))
	g.DELETE("/:token", d.handle(d.delete))
}

// handle adapts an endpoint that returns its error to gin.
func (d *Devices) handle(h func(c *gin.Context, phone string) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		var err error
		if phone := auth.Phone(c); phone != "" {
			err = h(c, phone)
		} else {
			err = fmt.Errorf("%s %s: no signed-in phone (route mounted without Auth.Require)", c.Request.Method, c.FullPath())
		}
		if err != nil {
			apijson.WriteError(c, d.cfg.Bundle, d.cfg.Bundle.Match(c.GetHeader("Accept-Language")), d.log, err)
		}
	}
}

// put is POST /v1/devices: the device token of the signed-in phone,
// registered anew (201) or again (200). A token another phone registered
// moves to this one. Over MaxDevices, the phone's devices that registered
// longest ago are removed; registering again counts as registering.
func (d *Devices) put(c *gin.Context, phone string) error {
	ctx := c.Request.Context()
	var req deviceRequest
	if err := apijson.DecodeBody(c, d.cfg.MaxBody, &req); err != nil {
		return err
	}
	if err := checkToken(req.Token); err != nil {
		return err
	}
	if !slices.Contains(platforms, req.Platform) {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "platform %q is not one of %v", req.Platform, platforms)
	}
	if req.Lang != "" && !d.cfg.Bundle.Supports(req.Lang) {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "language %q is not supported", req.Lang)
	}

	unlock, err := d.lock(ctx, phone)
	if err != nil {
		return err
	}
	defer unlock()
	have, err := d.cfg.Store.Devices(ctx, phone)
	if err != nil {
		return fmt.Errorf("devices of %s: %w", channels.MaskPhone(phone), err)
	}
	again := slices.ContainsFunc(have, func(dev channels.Device) bool { return dev.Token == req.Token })
	dev := channels.Device{Phone: phone, Token: req.Token, Platform: req.Platform, Lang: req.Lang, CreatedAt: d.cfg.Now().UTC()}
	if err := d.cfg.Store.PutDevice(ctx, dev); err != nil {
		return fmt.Errorf("register a device of %s: %w", channels.MaskPhone(phone), err)
	}
	removed, err := d.trim(c, phone, dev.Token)
	if err != nil {
		return err
	}
	d.log.InfoContext(ctx, "push: device registered", "phone", channels.MaskPhone(phone),
		"platform", dev.Platform, "again", again, "removed", removed)
	status := http.StatusCreated
	if again {
		status = http.StatusOK
	}
	c.JSON(status, deviceReply{Token: dev.Token, Platform: dev.Platform, Lang: dev.Lang, CreatedAt: dev.CreatedAt})
	return nil
}

// trim removes the devices of phone beyond MaxDevices, those registered
// longest ago first but never keep (the one just registered, whatever the
// clock says), and returns how many it removed.
func (d *Devices) trim(c *gin.Context, phone, keep string) (int, error) {
	ctx := c.Request.Context()
	have, err := d.cfg.Store.Devices(ctx, phone) // oldest first
	if err != nil {
		return 0, fmt.Errorf("devices of %s: %w", channels.MaskPhone(phone), err)
	}
	removed := 0
	for _, old := range have {
		if len(have)-removed <= d.cfg.MaxDevices {
			break
		}
		if old.Token == keep {
			continue
		}
		if err := d.cfg.Store.DeleteDevice(ctx, phone, old.Token); err != nil {
			return removed, fmt.Errorf("remove the oldest device of %s: %w", channels.MaskPhone(phone), err)
		}
		removed++
	}
	return removed, nil
}

// delete is DELETE /v1/devices/{token}: the signed-in phone's device
// removed (204). A token that is not one of its devices is 404 and nothing
// is removed: a citizen cannot silence another's device.
func (d *Devices) delete(c *gin.Context, phone string) error {
	ctx := c.Request.Context()
	token := c.Param("token")
	if err := checkToken(token); err != nil {
		return err
	}
	unlock, err := d.lock(ctx, phone)
	if err != nil {
		return err
	}
	defer unlock()
	have, err := d.cfg.Store.Devices(ctx, phone)
	if err != nil {
		return fmt.Errorf("devices of %s: %w", channels.MaskPhone(phone), err)
	}
	if !slices.ContainsFunc(have, func(dev channels.Device) bool { return dev.Token == token }) {
		return channels.Errorf(channels.ENOTFOUND, "error.not_found", "no such device of %s", channels.MaskPhone(phone))
	}
	if err := d.cfg.Store.DeleteDevice(ctx, phone, token); err != nil {
		return fmt.Errorf("remove a device of %s: %w", channels.MaskPhone(phone), err)
	}
	d.log.InfoContext(ctx, "push: device removed", "phone", channels.MaskPhone(phone))
	c.Status(http.StatusNoContent)
	return nil
}

// checkToken refuses a device token that cannot be FCM's: empty, over
// MaxTokenSize, or with a byte outside printable ASCII (spaces included).
func checkToken(token string) error {
	if token == "" || len(token) > MaxTokenSize {
		return channels.Errorf(channels.EINVALID, "error.bad_request", "token of %d bytes, want 1 to %d", len(token), MaxTokenSize)
	}
	for i := range len(token) {
		if b := token[i]; b <= ' ' || b > '~' {
			return channels.Errorf(channels.EINVALID, "error.bad_request", "token byte %d is %#x, not printable ASCII", i, b)
		}
	}
	return nil
}
