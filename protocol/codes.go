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
	CodeConditionFailed         = "things:condition.failed"
	CodeConditionInvalid        = "things:condition.invalid"
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

	CodeSearchOptionInvalid     = "thing-search:search.option.invalid"
	CodeSearchNamespacesInvalid = "thing-search:search.namespaces.invalid"
	CodeSubscriptionProtocol    = "thing-search:subscription.protocol.error"
	CodeSubscriptionNotFound    = "thing-search:subscription.not.found"

	CodeAuthenticationFailed = "gateway:authentication.failed"
	CodeGatewayTimeout       = "gateway:timeout.invalid"
	CodeMethodNotAllowed     = "gateway:method.notallowed"
	CodeMessageTooLarge      = "messages:payload.toolarge"
	CodeTooManyRequests      = "too.many.requests"
	CodeServiceUnavailable   = "gateway:service.unavailable"
	CodeNotFound             = "resource.notfound"
)

// Authentication codes (Ditto's gateway and jwt modules): see auth/ and
// SPEC.md §5, §8.
const (
	CodeJWTInvalid              = "jwt:invalid"
	CodeJWTIssuerNotSupported   = "gateway:jwt.issuer.notsupported"
	CodeJWTConditionFailed      = "gateway:jwt.condition.failed"
	CodeAuthProviderUnavailable = "gateway:authentication.provider.unavailable"
	CodeSessionExpired          = "gateway:websocket.session.expired"
	CodeSessionClosed           = "gateway:websocket.session.closed"
)

// Policy model codes (Ditto's policies module): see auth/policy and SPEC.md
// §5, §11.
const (
	CodePolicyIDNotSettable            = "policies:id.notsettable"
	CodePolicyLabelInvalid             = "policies:label.invalid"
	CodePolicySubjectIDInvalid         = "policies:subjectid.invalid"
	CodePolicySubjectExpiryInvalid     = "policies:subjectexpiry.invalid"
	CodePolicyEntryInvalid             = "policies:entry.invalid"
	CodePolicyImportInvalid            = "policies:import.invalid"
	CodePolicyImportsTooLarge          = "policies:imports.toolarge"
	CodePolicyTooLarge                 = "policies:policy.toolarge"
	CodePolicyModificationInvalid      = "policies:policy.modificationinvalid"
	CodePolicyEntryModificationInvalid = "policies:entry.modificationinvalid"
	CodePolicyNotCreatable             = "policies:policy.notcreatable"
	CodePolicyNotFound                 = "policies:policy.notfound"
	// Refusals of twin writes for want of WRITE (403), one per level, as
	// Ditto's ThingCommandToModifyExceptionRegistry maps them.
	CodeThingNotModifiable                    = "things:thing.notmodifiable"
	CodeThingPoliciesConflicting              = "things:policy.conflicting"
	CodeThingNotDeletable                     = "things:thing.notdeletable"
	CodePolicyIDNotModifiable                 = "things:policyId.notmodifiable"
	CodeDefinitionNotModifiable               = "things:definition.notmodifiable"
	CodeAttributesNotModifiable               = "things:attributes.notmodifiable"
	CodeAttributeNotModifiable                = "things:attribute.notmodifiable"
	CodeFeaturesNotModifiable                 = "things:features.notmodifiable"
	CodeFeatureNotModifiable                  = "things:feature.notmodifiable"
	CodeFeatureDefinitionNotModifiable        = "things:feature.definition.notmodifiable"
	CodeFeaturePropertiesNotModifiable        = "things:feature.properties.notmodifiable"
	CodeFeaturePropertyNotModifiable          = "things:feature.property.notmodifiable"
	CodeFeatureDesiredPropertiesNotModifiable = "things:feature.desiredProperties.notmodifiable"
	CodeFeatureDesiredPropertyNotModifiable   = "things:feature.desiredProperty.notmodifiable"
)

type errorKind struct {
	status      int
	description string
}

var catalogue = map[string]errorKind{
	CodeInternal:           {500, "Please contact the service team."},
	CodeJSONInvalid:        {400, "Check if the JSON was valid (e.g. on https://jsonlint.com) and if it was in required format."},
	CodeJSONFieldMissing:   {400, "Check if all required JSON fields were set."},
	CodeJSONFormatInvalid:  {400, "Check if the JSON was valid and if it was in required format."},
	CodeJSONPointerInvalid: {400, "Check, for example, if the JSON Pointer is not empty."},
	CodeJSONKeyInvalid:     {400, "Neither slashes nor any control characters are allowed as part of the JSON key."},
	CodeFieldSelectorInv:   {400, "Check, for example, if the amount of opening parentheses '(' matches the amount of closing ones ')'."},
	CodeHeaderInvalid:      {400, "Verify that the value of the header is valid and try again."},
	CodeHeaderUnsupported:  {400, "This header or parameter is not supported by this gateway yet."},
	CodeTimeoutInvalid:     {400, "Please choose a valid timeout."},
	CodeMediaType:          {415, "Allowed Media-Type is: <application/merge-patch+json>."},
	CodeSignalUnsupported:  {400, "Check the command and its topic, and try again."},
	CodeRQLInvalid:         {400, "Ensure that all opening parentheses have also closing ones and that the RQL expression is valid."},

	CodeUnknownTopicPath: {400, "Check if the topic path is correct."},
	CodeUnknownPath:      {400, "Check if the path is correct."},
	CodeInvalidPath:      {400, "Check if the path is valid for the topic."},
	CodeUnknownChannel:   {400, "Use 'twin' or 'live'."},
	CodeUnknownCommand:   {400, "Check if the command is correct."},
	CodeUnknownSignal:    {400, "Check if the signal is supported."},
	CodeIllegalAdaptable: {422, "Please ensure that the Adaptable matches the expectations."},

	CodeThingIDInvalid:          {400, "It must conform to the namespaced entity ID notation (see Ditto documentation)"},
	CodeThingIDNotSettable:      {400, "Either delete the Thing ID from the thing JSON or use the same Thing ID as in the topic path."},
	CodeThingIDNotDeletable:     {400, "Remove the Thing ID entry from the request body and retry the request."},
	CodePolicyIDNotDeletable:    {400, "Remove Policy ID entry from the request body and retry the request."},
	CodePolicyIDInvalid:         {400, "It must conform to the namespaced entity ID notation (see Ditto documentation)"},
	CodeThingConflict:           {409, "Choose another Thing ID"},
	CodeThingNotCreatable:       {400, "Check the Thing and its policy, and try again."},
	CodeThingTooLarge:           {413, "Reduce the Thing size in the bounds of the specified limit"},
	CodeThingUnavailable:        {503, "The requested Thing is temporarily not available, please retry the performed action in order to improve resiliency."},
	CodeThingsIDsMissing:        {400, "Please provide at least one thing id and try again."},
	CodeMergeInvalid:            {400, "The provided JSON Merge Patch cannot be applied at the given path."},
	CodeConditionFailed:         {412, "The provided condition did not match the actual Thing state. Please check your provided condition."},
	CodeConditionInvalid:        {400, "The provided condition is not a valid RQL expression. Please check your provided condition."},
	CodeFieldSelectionInvalid:   {400, "Check the field selector and use only the fields a Thing has."},
	CodePreconditionFailed:      {412, "The comparison of the provided precondition header with the current ETag value of the requested Thing resource evaluated to false. Check the value of your conditional header value."},
	CodePreconditionNotModified: {304, "The comparison of the provided precondition header ''if-none-match'' with the current ETag value of the requested Thing resource evaluated to false. Check the value of your conditional header value."},
	CodeDefinitionInvalid:       {400, "An identifier string is expected to have the structure 'namespace:name:version' where each segment must contain at least one char of [_a-zA-Z0-9\\-.] OR it must be a valid HTTP(s) URL."},
	CodeFeatureDefinitionEmpty:  {400, "A Feature Definition must contain at least one element. It can however also be set to null or deleted completely."},
	CodeAttributePointerInvalid: {400, "Check the attribute's path."},

	CodeThingNotFound:                    {404, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodePolicyIDNotFound:                 {404, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodeDefinitionNotFound:               {404, "Check if the ID of the thing and the key of your requested definition was correct and you have sufficient permissions."},
	CodeAttributesNotFound:               {404, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeAttributeNotFound:                {404, "Check if the ID of the Thing and the key of your requested attribute was correct and you have sufficient permissions."},
	CodeFeaturesNotFound:                 {404, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeFeatureNotFound:                  {404, "Check if the ID of the Thing and the ID of your requested Feature was correct and you have sufficient permissions."},
	CodeFeatureDefinitionNotFound:        {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeaturePropertiesNotFound:        {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeaturePropertyNotFound:          {404, "Check if the ID of the Thing, the Feature ID and the key of your requested property was correct and you have sufficient permissions."},
	CodeFeatureDesiredPropertiesNotFound: {404, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeatureDesiredPropertyNotFound:   {404, "Check if the ID of the Thing, the Feature ID and the key of your requested desired property was correct and you have sufficient permissions."},

	CodeSearchOptionInvalid:     {400, "At least one provided option is invalid."},
	CodeSearchNamespacesInvalid: {400, "Check the namespaces: each must be a valid namespace."},
	CodeSubscriptionProtocol:    {400, "Please follow the search protocol: subscribe, then request with a positive demand, then cancel."},
	CodeSubscriptionNotFound:    {404, "Check the subscription ID."},

	CodeAuthenticationFailed: {401, "Check if your credentials were correct."},
	CodeGatewayTimeout:       {400, "Choose a timeout inside the bounds."},
	CodeMethodNotAllowed:     {405, "Use one of the supported methods."},
	CodeMessageTooLarge:      {413, "Reduce the message payload in the bounds of the specified limit"},
	CodeTooManyRequests:      {429, "Reduce the rate of requests."},
	CodeServiceUnavailable:   {503, "The service is not available at the moment; please try again later."},
	CodeNotFound:             {404, "Check the request's path."},

	CodeJWTInvalid:              {400, "The provided token string did not have the expected format."},
	CodeJWTIssuerNotSupported:   {401, "Check if your JWT is correct."},
	CodeJWTConditionFailed:      {401, "Check if your JWT contains the required claims."},
	CodeAuthProviderUnavailable: {503, "If after retry it is still unavailable, please contact the service team."},
	CodeSessionExpired:          {401, "You need to periodically refresh your websocket session with a new JWT."},
	CodeSessionClosed:           {403, "Changing the authorization context for an established websocket session isn't supported."},

	CodePolicyIDNotSettable:                   {400, "Either delete the Policy ID from the request body or use the same Policy ID as in the request URL."},
	CodePolicyLabelInvalid:                    {400, "It must not start with the blocklisted 'imported' or 'nsimported' prefix."},
	CodePolicySubjectIDInvalid:                {400, "It must contain an issuer as prefix separated by a colon ':' from the actual subject"},
	CodePolicySubjectExpiryInvalid:            {400, "It must be provided as ISO-8601 formatted char sequence."},
	CodePolicyEntryInvalid:                    {400, "Policy entry does not contain any known permission like 'READ' or 'WRITE'"},
	CodePolicyImportInvalid:                   {400, "The Policy Import references the policy where it is defined."},
	CodePolicyImportsTooLarge:                 {400, "Please reduce the number of imports you're trying to add to 10"},
	CodePolicyTooLarge:                        {413, "Reduce the Policy size in the bounds of the specified limit"},
	CodePolicyModificationInvalid:             {403, "There must always be at least one PolicyEntry with 'WRITE' permissions on resource 'policy:/'."},
	CodePolicyEntryModificationInvalid:        {403, "There must always be at least one PolicyEntry with 'WRITE' permissions on resource 'policy:/'."},
	CodePolicyNotCreatable:                    {403, "Check if you have sufficient permissions in the new policy to create."},
	CodeThingPoliciesConflicting:              {400, "Please either define an inline Policy or define a policy to copy, but not both."},
	CodeThingNotModifiable:                    {403, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodeThingNotDeletable:                     {403, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodePolicyIDNotModifiable:                 {403, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodeDefinitionNotModifiable:               {403, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodeAttributesNotModifiable:               {403, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodeAttributeNotModifiable:                {403, "Check if the ID of your requested Thing was correct and you have sufficient permissions."},
	CodeFeaturesNotModifiable:                 {403, "Check if the ID of the Thing was correct and you have sufficient permissions."},
	CodeFeatureNotModifiable:                  {403, "Check if the ID of the Thing and the ID of your requested Feature was correct and you have sufficient permissions."},
	CodeFeatureDefinitionNotModifiable:        {403, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeaturePropertiesNotModifiable:        {403, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeaturePropertyNotModifiable:          {403, "Check if the ID of the Thing, the Feature ID and the key of your requested property was correct and you have sufficient permissions."},
	CodeFeatureDesiredPropertiesNotModifiable: {403, "Check if the ID of the Thing and the Feature ID was correct and you have sufficient permissions."},
	CodeFeatureDesiredPropertyNotModifiable:   {403, "Check if the ID of the Thing, the Feature ID and the key of your requested desired property was correct and you have sufficient permissions."},

	// The policies handler (policies/): Ditto's PolicyCommandEnforcement,
	// the policy command strategies and their exceptions.
	CodePolicyNotFound:                {404, "Check if the ID of your requested Policy was correct and you have sufficient permissions."},
	CodePolicyConflict:                {409, "Choose another Policy ID"},
	CodePolicyNotModifiable:           {403, "Check if the ID of your requested Policy was correct and you have sufficient permissions."},
	CodePolicyUnavailable:             {503, "The requested Policy is temporarily not available, please retry the performed action in order to improve resiliency."},
	CodePolicyPreconditionFailed:      {412, "The comparison of the provided precondition header with the current ETag value of the requested Policy resource evaluated to false. Check the value of your conditional header value."},
	CodePolicyPreconditionNotModified: {304, "The comparison of the provided precondition header 'if-none-match' with the current ETag value of the requested Policy resource evaluated to false. Check the value of your conditional header value."},
	CodePolicyEntryNotFound:           {404, "Check if the ID of the Policy and the Label of your requested PolicyEntry was correct and you have sufficient permissions."},
	CodePolicyEntryNotModifiable:      {403, "Check if the ID of the Policy and the Label of your requested PolicyEntry was correct and you have sufficient permissions."},
	CodePolicySubjectNotFound:         {404, "Check if the ID of the Policy, the Label of the PolicyEntry and ID of your requested Subject was correct and you have sufficient permissions."},
	CodePolicySubjectNotModifiable:    {403, "Check if the ID of the Policy, the Label of the PolicyEntry and ID of your requested Subject was correct and you have sufficient permissions."},
	CodePolicySubjectsNotFound:        {404, "Check if the ID of the Policy and the Label of the PolicyEntry was correct and you have sufficient permissions."},
	CodePolicySubjectsNotModifiable:   {403, "Check if the ID of the Policy and the PolicyEntry's Label of your requested Subjects was correct and you have sufficient permissions."},
	CodePolicyResourceNotFound:        {404, "Check if the ID of the Policy, the Label of the PolicyEntry and the path of your requested Resource was correct and you have sufficient permissions."},
	CodePolicyResourceNotModifiable:   {403, "Check if the ID of the Policy, the Label of the PolicyEntry and the path of your requested Resource was correct and you have sufficient permissions."},
	CodePolicyResourcesNotFound:       {404, "Check if the ID of the Policy and the Label of the PolicyEntry was correct and you have sufficient permissions."},
	CodePolicyResourcesNotModifiable:  {403, "Check if the ID of the Policy and the PolicyEntry's Label of your requested Resources was correct and you have sufficient permissions."},
	CodePolicyImportNotFound:          {404, "Check if the ID of the Policy and the imported Policy was correct and you have sufficient permissions."},
	CodePolicyImportNotModifiable:     {403, "Check if the ID of your requested Policy and imported Policy was correct and you have sufficient permissions."},
	CodePolicyImportsNotFound:         {404, "Check if the ID of the Policy was correct and you have sufficient permissions."},
	CodePolicyImportsNotModifiable:    {403, "Check if the ID of your requested Policy was correct and you have sufficient permissions."},
	CodePolicyEntryReferenceConflict:  {409, "Remove the local entry references first before deleting the referenced entry."},
	CodePolicyImportReferenceConflict: {409, "Remove the entry references first before deleting the import."},
	CodePolicyViewInvalid:             {400, "Use 'original' (or omit) for the stored policy, or 'resolved' for the merged view."},
	CodePolicyActionFailed:            {500, "Please contact the service team."},

	// Acknowledgements, live commands and messages (ack/, live/): Ditto's
	// acknowledgement, command-timeout and message exceptions.
	CodeAckLabelInvalid:           {400, "An acknowledgement label must conform to the regular expression of Ditto documentation."},
	CodeAckLabelNotDeclared:       {400, "Each connection may only send acknowledgements whose label matches one declared for the connection."},
	CodeAckLabelNotUnique:         {409, "Please ensure all other subscribers with the declared acknowledgement labels are offline."},
	CodeAckLabelForbidden:         {400, "Make sure to not issue an Ditto internal Acknowledgement label."},
	CodeAckCorrelationIDMissing:   {400, "Please provide the mandatory header 'correlation-id' as part of your acknowledgement"},
	CodeAckDuplicateCorrelationID: {409, "Please provide unique correlation-ids when requesting acknowledgements, at least unique within at least several minutes."},
	CodeAckRequestTimeout:         {408, "Try increasing the timeout and make sure that the requested acknowledgement is sent back in time."},
	CodeCommandTimeout:            {408, "Try increasing the command timeout."},
	CodeMessageSubjectInvalid:     {400, "It must not be empty and conform to RFC-3986 (URI) - check here if it does (select 'path' in the list): http://www.websitedev.de/temp/rfc3986-check.html.gz"},
	CodeMessageFeatureIDInvalid:   {400, "Please ensure that you added the feature ID to the Message and that this feature ID matches the one from the wrapping MessageCommand."},
	CodeMessageSendNotAllowed:     {403, "Please make sure that the Thing exists and that you have WRITE permissions on the message resource in the policy of the Thing."},
	CodeEventSendNotAllowed:       {403, "Please make sure that the Thing exists and that you have WRITE permissions on the message resource in the policy of the Thing."},
}

// Codes of the policies handler (policies/, SPEC.md §11.6): Ditto's policy
// command exceptions (policies model, signals/commands/exceptions).
// CodePolicyNotFound is declared with the policy model codes above.
const (
	CodePolicyConflict                = "policies:policy.conflict"
	CodePolicyNotModifiable           = "policies:policy.notmodifiable"
	CodePolicyUnavailable             = "policies:policy.unavailable"
	CodePolicyPreconditionFailed      = "policies:precondition.failed"
	CodePolicyPreconditionNotModified = "policies:precondition.notmodified"
	CodePolicyEntryNotFound           = "policies:entry.notfound"
	CodePolicyEntryNotModifiable      = "policies:entry.notmodifiable"
	CodePolicySubjectNotFound         = "policies:subject.notfound"
	CodePolicySubjectNotModifiable    = "policies:subject.notmodifiable"
	CodePolicySubjectsNotFound        = "policies:subjects.notfound"
	CodePolicySubjectsNotModifiable   = "policies:subjects.notmodifiable"
	CodePolicyResourceNotFound        = "policies:resource.notfound"
	CodePolicyResourceNotModifiable   = "policies:resource.notmodifiable"
	CodePolicyResourcesNotFound       = "policies:resources.notfound"
	CodePolicyResourcesNotModifiable  = "policies:resources.notmodifiable"
	CodePolicyImportNotFound          = "policies:import.notfound"
	CodePolicyImportNotModifiable     = "policies:import.notmodifiable"
	CodePolicyImportsNotFound         = "policies:imports.notfound"
	CodePolicyImportsNotModifiable    = "policies:imports.notmodifiable"
	CodePolicyEntryReferenceConflict  = "policies:entry.referenceconflict"
	CodePolicyImportReferenceConflict = "policies:import.referenceconflict"
	CodePolicyViewInvalid             = "policies:view.invalid"
	CodePolicyActionFailed            = "policies:action.failed"
)

// Codes of acknowledgements (ack/, SPEC.md §6) and the live channel (live/,
// SPEC.md §7): Ditto's AcknowledgementException family, CommandTimeoutException
// and the messages model's exceptions.
const (
	CodeAckLabelInvalid           = "acknowledgement:label.invalid"
	CodeAckLabelNotDeclared       = "acknowledgement:label.not.declared"
	CodeAckLabelNotUnique         = "acknowledgement:label.not.unique"
	CodeAckLabelForbidden         = "acknowledgement:ditto.acklabel.forbidden"
	CodeAckCorrelationIDMissing   = "acknowledgement:correlation-id.missing"
	CodeAckDuplicateCorrelationID = "acknowledgement:request.duplicate.correlation-id"
	CodeAckRequestTimeout         = "acknowledgement:request.timeout"
	CodeCommandTimeout            = "command.timeout"
	CodeMessageSubjectInvalid     = "messages:subject.invalid"
	CodeMessageFeatureIDInvalid   = "messages:featureid.invalid"
	CodeMessageSendNotAllowed     = "messages:send.notallowed"
	CodeEventSendNotAllowed       = "things:event.notallowed"
)
