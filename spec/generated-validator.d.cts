// Types of spec/generated-validator.cjs and of the ajv standalone code it loads.
declare namespace generatedValidator {
  interface GeneratedError {
    instancePath: string;
    schemaPath: string;
    keyword: string;
    params: Record<string, any>;
    /** Set by ajv on errors about an object's key (propertyNames). */
    propertyName?: string;
  }
  interface Validator {
    (data: unknown): boolean;
    errors?: GeneratedError[] | null;
  }
}
declare function generatedValidator(): generatedValidator.Validator;
export = generatedValidator;
