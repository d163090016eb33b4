package protocol

// Ditto's error codes used by the gateway. The catalogue below gives each its
// HTTP status and Ditto's standard description; it is data on purpose, so a
// new code is one line. Codes are Ditto's, not ours: see SPEC.md §5.
const (
	CodeInternal           = "internalerror"
	CodeJSONInvalid        = "json.invalid"
	CodeJSONFieldMissing   = "json.field.missing"
	CodeJSONFormatInvalid  = "json.format.invalid"
	CodeJSONPointerInvalid = "json.pointer.invalid"
	CodeJSONKeyInvalid     = "json.key.invalid"
	CodeFieldSelectorInv   = "json.fieldselector.invalid"
	CodeHeaderInvalid      = "header.invalid"
	CodeHeaderUnsupported  = "header.notsupported"
	CodeTimeoutInvalid     = "timeout.invalid"
	CodeMediaType          = "mediatype.unsupported"
	CodeSignalUnsupported  = "signal.unsupported"
	CodeRQLInvalid         = "rql.expression.invalid"

	CodeUnknownTopicPath = "protocoladapter:unknown.topicpath"
	CodeUnknownPath      = "protocoladapter:unknown.path"
	CodeInvalidPath      = "protocoladapter:invalid.path"
	CodeUnknownChannel   = "protocoladapter:unknown.channel"
	CodeUnknownCommand   = "protocoladapter:unknown.command"
	CodeUnknownSignal    = "protocoladapter:unknown.signal"
	CodeIllegalAdaptable = "protocoladapter:illegal.adaptable"

	CodeThingIDInvalid          = "things:id.invalid"
	CodeThingIDNotSettable      = "things:id.notsettable"
	CodeThingIDNotDeletable     = "things:id.notdeletable"
	CodePolicyIDNotDeletable    = "things:policyId.notdeletable"
	CodePolicyIDInvalid         = "policies:id.invalid"
	CodeThingConflict           = "things:thing.conflict"
	CodeThingNotCreatable       = "things:thing.notcreatable"
	CodeThingTooLarge           = "things:thing.toolarge"
	CodeThingUnavailable        = "things:thing.unavailable"
	CodeThingsIDsMissing        = "things:things.ids.missing"
	CodeMergeInvalid            = "things:merge.invalid"
	CodeFieldSelectionInvalid   = "things:field.selection.invalid"
	CodePreconditionFailed      = "things:precondition.failed"
	CodePreconditionNotModified = "things:precondition.notmodified"
	CodeDefinitionInvalid       = "things:definition.identifier.invalid"
	CodeFeatureDefinitionEmpty  = "things:feature.definition.empty"
	CodeAttributePointerInvalid = "things:attribute.pointerinvalid"

	CodeThingNotFound                    = "things:thing.notfound"
	CodePolicyIDNotFound                 = "things:policyId.notfound"
	CodeDefinitionNotFound               = "things:definition.notfound"
	CodeAttributesNotFound               = "things:attributes.notfound"
	CodeAttributeNotFound                = "things:attribute.notfound"
	CodeFeaturesNotFound                 = "things:features.notfound"
	CodeFeatureNotFound                  = "things:feature.notfound"
	CodeFeatureDefinitionNotFound        = "things:feature.definition.notfound"
	CodeFeaturePropertiesNotFound        = "things:feature.properties.notfound"
	CodeFeaturePropertyNotFound          = "things:feature.property.notfound"
	CodeFeatureDesiredPropertiesNotFound = "things:feature.desiredProperties.notfound"
	CodeFeatureDesiredPropertyNotFound   = "things:feature.desiredProperty.notfound"

	CodeAuthenticationFailed = "gateway:authentication.failed"
	CodeGatewayTimeout       = "gateway:timeout.invalid"
	CodeMethodNotAllowed     = "gateway:method.notallowed"
	CodeMessageTooLarge      = "gateway:websocket.message.toolarge"
	CodeTooManyRequests      = "too.many.requests"
	CodeServiceUnavailable   = "gateway:service.unavailable"
	CodeNotFound             = "resource.notfound"
)

type errorKind struct {
	status      int
	description string
}

var catalogue = map[string]errorKind{
	CodeInternal:           {500, "Please contact the service team."},
	CodeJSONInvalid:        {400, "Check if the JSON was valid (e.g. on https://jsonlint.com) and if it was in required format."},
	CodeJSONFieldMissing:   {400, "Ensure that all required JSON fields are present."},
	CodeJSONFormatInvalid:  {400, "Check if the JSON was valid and if it was in required format."},
	CodeJSONPointerInvalid: {400, "Check if the JSON pointer was valid."},
	CodeJSONKeyInvalid:     {400, "JSON keys must not contain slashes, control characters or characters from U+007F to U+00FF and must not be empty."},
	CodeFieldSelectorInv:   {400, "Check if the field selector was valid."},
	CodeHeaderInvalid:      {400, "Verify that the header has the correct syntax and try again."},
	CodeHeaderUnsupported:  {400, "This header or parameter is not supported by this gateway yet."},
	CodeTimeoutInvalid:     {400, "Set a valid timeout, e.g. '10s', '250ms' or '1m'."},
	CodeMediaType:          {415, "Check if you specified the correct Content-Type header."},
	CodeSignalUnsupported:  {400, "Check the command and its topic, and try again."},
	CodeRQLInvalid:         {400, "Check if the RQL expression is valid."},

	CodeUnknownTopicPath: {400, "Check if the topic is valid."},
	CodeUnknownPath:      {400, "Check if the path is valid for the topic."},
	CodeInvalidPath:      {400, "Check if the path is valid for the topic."},
	CodeUnknownChannel:   {400, "Use 'twin' or 'live'."},
	CodeUnknownCommand:   {400, "Check if the command is supported."},
	CodeUnknownSignal:    {400, "Check if the signal is supported."},
	CodeIllegalAdaptable: {422, "Check if the message is a valid Ditto Protocol message."},

	CodeThingIDInvalid:          {400, "It must conform to the namespaced entity ID notation (see Ditto documentation)"},
	CodeThingIDNotSettable:      {400, "Either delete the Thing ID from the resource or use the same one as in the URI or topic."},
	CodeThingIDNotDeletable:     {400, "The Thing ID is part of the Thing's identity and can not be deleted."},
	CodePolicyIDNotDeletable:    {400, "A Thing must always have a Policy ID; modify it instead."},
	CodePolicyIDInvalid:         {400, "It must conform to the namespaced entity ID notation (see Ditto documentation)"},
	CodeThingConflict:           {409, "Choose another Thing ID."},
	CodeThingNotCreatable:       {400, "Check the Thing and its policy, and try again."},
	CodeThingTooLarge:           {413, "Reduce the Thing size in the bounds of the maximum allowed size."},
	CodeThingUnavailable:        {503, "The Thing store is not available at the moment; please try again later."},
	CodeThingsIDsMissing:        {400, "Provide at least one Thing ID."},
	CodeMergeInvalid:            {400, "Check that the merge patch is a valid JSON merge patch (RFC 7396) for this resource."},
	CodeFieldSelectionInvalid:   {400, "Check the field selector and use only the fields a Thing has."},
	CodePreconditionFailed:      {412, "The comparison of the precondition header with the current ETag failed."},
	CodePreconditionNotModified: {304, "The comparison of the If-None-Match header with the current ETag matched."},
	CodeDefinitionInvalid:       {400, "A definition is '<namespace>:<name>:<version>' or an HTTP(S) URL."},
	CodeFeatureDefinitionEmpty:  {400, "Provide at least one definition identifier."},
	CodeAttributePointerInvalid: {400, "Check the attribute's path."},

	CodeThingNotFound:                    {404, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodePolicyIDNotFound:                 {404, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeDefinitionNotFound:               {404, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeAttributesNotFound:               {404, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeAttributeNotFound:                {404, "Check if the ID of the Thing and the key of your requested attribute was correct and you have sufficient permissions."},
	CodeFeaturesNotFound:                 {404, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeFeatureNotFound:                  {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeatureDefinitionNotFound:        {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeaturePropertiesNotFound:        {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeaturePropertyNotFound:          {404, "Check if the ID of the Thing, the Feature ID and the key of your requested property was correct and you have sufficient permissions."},
	CodeFeatureDesiredPropertiesNotFound: {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeatureDesiredPropertyNotFound:   {404, "Check if the ID of the Thing, the Feature ID and the key of your requested desired property was correct and you have sufficient permissions."},

	CodeAuthenticationFailed: {401, "Check if all required JSON fields were set and the credentials are correct."},
	CodeGatewayTimeout:       {400, "Set a timeout of at most 60s."},
	CodeMethodNotAllowed:     {405, "Use one of the supported methods."},
	CodeMessageTooLarge:      {413, "Reduce the size of the message."},
	CodeTooManyRequests:      {429, "Reduce the rate of requests."},
	CodeServiceUnavailable:   {503, "The service is not available at the moment; please try again later."},
	CodeNotFound:             {404, "Check the request's path."},
}
